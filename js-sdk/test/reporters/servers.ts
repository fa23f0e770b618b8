import { createServer, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/** A request the local server received, its body read whole. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly raw: Buffer;
  /** `raw` decoded as UTF-8. */
  readonly body: string;
}

/** A real HTTP server on 127.0.0.1 that records what it is sent. */
export interface LocalServer {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  readonly port: number;
  /** Every request so far, in the order they arrived. */
  readonly requests: readonly ReceivedRequest[];
  /** The status it answers with; 204 until changed. */
  status: number;
  /** Resolve with the requests once `count` of them have arrived. */
  received(count: number): Promise<readonly ReceivedRequest[]>;
  close(): Promise<void>;
}

/**
 * Start a server on a free port of 127.0.0.1.
 *
 * `OPTIONS` preflights are answered for any origin and not recorded, so a
 * page on another origin can post JSON to it as a browser would.
 */
export async function startServer(): Promise<LocalServer> {
  const requests: ReceivedRequest[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer(async (request, response) => {
    response.setHeader("Access-Control-Allow-Origin", "*");
    response.setHeader("Access-Control-Allow-Headers", "content-type");
    if (request.method === "OPTIONS") {
      response.writeHead(204).end();
      return;
    }
    requests.push(await read(request));
    response.writeHead(local.status).end();
    for (const waiter of waiters.filter(({ count }) => requests.length >= count)) {
      waiter.resolve();
    }
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const local: LocalServer = {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    status: 204,
    received(count) {
      if (requests.length >= count) {
        return Promise.resolve(requests.slice());
      }
      return new Promise((resolve) => {
        waiters.push({ count, resolve: () => resolve(requests.slice()) });
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
      });
    },
  };

  return local;
}

async function read(request: IncomingMessage): Promise<ReceivedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);

  return {
    method: request.method ?? "",
    path: request.url ?? "",
    headers: request.headers,
    raw,
    body: raw.toString("utf8"),
  };
}
