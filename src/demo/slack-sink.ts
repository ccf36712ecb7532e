/**
 * A local Slack-compatible incoming webhook for the demo: accepts Block Kit POSTs on
 * 127.0.0.1 and hands each message to the caller as plain text (header, sections, context).
 */
import { createServer, type Server } from 'node:http';

export interface SlackSink {
  url: string;
  received: number;
  close(): Promise<void>;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function textOf(v: unknown): string | undefined {
  return isObj(v) && typeof v.text === 'string' ? v.text : undefined;
}

/** The readable text of a Block Kit message: each block's text on its own line(s). */
export function blockKitText(message: unknown): string {
  if (!isObj(message)) return '';
  const blocks = Array.isArray(message.blocks) ? message.blocks : [];
  const lines: string[] = [];
  for (const b of blocks) {
    if (!isObj(b)) continue;
    const t = textOf(b.text);
    if (t !== undefined) lines.push(t);
    if (Array.isArray(b.elements)) for (const e of b.elements) lines.push(textOf(e) ?? '');
  }
  if (lines.length === 0 && typeof message.text === 'string') lines.push(message.text);
  return lines.filter((l) => l !== '').join('\n');
}

export async function startSlackSink(onMessage: (text: string) => void): Promise<SlackSink> {
  const sink = { url: '', received: 0 } as SlackSink;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_payload');
        return;
      }
      sink.received++;
      onMessage(blockKitText(parsed));
      // Slack answers a accepted webhook with 200 and the body "ok".
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  sink.url = `http://127.0.0.1:${port}/services/demo/webhook`;
  sink.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return sink;
}
