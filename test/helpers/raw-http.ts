import http from 'node:http';

export interface RawRequest {
  method: string;
  /** Sent as given: no normalising of `..`, `#`, `\` or percent-escapes, as fetch and URL would. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RawHttpClient {
  send(request: RawRequest): Promise<RawAnswer>;
  close(): void;
}

/** An HTTP/1.1 client over keep-alive sockets to one loopback port, sending requests byte for byte. */
export function rawHttpClient(port: number, sockets = 8): RawHttpClient {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const send = ({ method, path, headers = {}, body }: RawRequest): Promise<RawAnswer> =>
    new Promise((resolve, reject) => {
      const request = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      });
      request.on('error', reject);
      request.end(body);
    });
  return {
    send,
    close: () => {
      agent.destroy();
    },
  };
}
