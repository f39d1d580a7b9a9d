// A real Yjs client for the tests of `edgesite sync`: joins a document through y-websocket, optionally
// appends text once synced, and prints the document's text as JSON when it reads `expect` (or times out).
// usage: node client.mjs ws://HOST:PORT DOCUMENT APPEND EXPECT
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'

const [url, document, append, expect] = process.argv.slice(2)
const doc = new Y.Doc()
const text = doc.getText('notes')
const provider = new WebsocketProvider(url, document, doc, { WebSocketPolyfill: WebSocket, disableBc: true })

const finish = (code) => {
  console.log(JSON.stringify({ text: text.toString() }))
  provider.destroy()
  setTimeout(() => process.exit(code), 200) // let the last update leave the socket
}
const timer = setTimeout(() => finish(1), 10000)

provider.once('sync', () => {
  if (append) text.insert(text.length, append)
  const check = () => {
    if (text.toString() === expect) {
      clearTimeout(timer)
      setTimeout(() => finish(0), 300)
    }
  }
  text.observe(check)
  check()
})
