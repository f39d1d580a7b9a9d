# The edgesite image: the operator, and the site programs of ours (`edgesite gateway`, `edgesite sync`).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
COPY templates ./templates
RUN pip wheel --no-deps --wheel-dir /wheels . && pip wheel --wheel-dir /wheels "$(ls /wheels/edgesite-*.whl)[sync]"

FROM python:3.11-slim
RUN useradd --uid 65532 --user-group --no-create-home --shell /usr/sbin/nologin edgesite
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels 'edgesite[sync]' && rm -rf /wheels
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["edgesite"]
CMD ["operator"]
