import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the server received. */
export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** When it arrived, from `performance.now()`. */
  readonly at: number;
}

/** Answer the `index`-th request (from 0); may end the socket instead. */
export type Script = (index: number, seen: Seen, response: ServerResponse) => void;

export interface TestServer {
  readonly url: string;
  readonly seen: Seen[];
  close(): Promise<void>;
}

/** Start an HTTP server on a free loopback port that answers by `script`. */
export async function serve(script: Script): Promise<TestServer> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const entry: Seen = {
        method: request.method ?? "",
        path: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: performance.now(),
      };
      seen.push(entry);
      script(seen.length - 1, entry, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answer with `status`, a body and headers. */
export function reply(
  response: ServerResponse,
  status: number,
  body = "",
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, headers);
  response.end(body);
}

/** Answer with an RFC 9457 envelope as the hiccup middleware writes it. */
export function problem(
  response: ServerResponse,
  status: number,
  members: Record<string, unknown>,
  headers: Record<string, string> = {},
): void {
  reply(response, status, JSON.stringify({ status, title: "t", type: "/problems/x", ...members }), {
    "Content-Type": "application/problem+json",
    ...headers,
  });
}
