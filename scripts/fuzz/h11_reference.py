"""Reference HTTP/1.1 parser for the differential fuzzer: Python's h11 (Debian python3-h11), as a server.

Reads one JSON object a line on stdin, {"id": N, "data": "<base64 bytes of one connection>"}, and answers one
line on stdout saying how h11 split the bytes: {"id": N, "requests": [{"method", "target", "body" (base64, or
null when the body did not end), "upgrade"}], "end": "eof" | "closed" | "refused", "reason": "…" | null}:
"closed" when h11 stopped after `Connection: close` or an upgrade, "refused" on a protocol error.
The bytes are fed as if the client half-closed after them. Exits when stdin closes.
"""
import base64
import json
import sys

import h11


def split(data):
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    conn.receive_data(b"")
    requests = []
    current = None
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                return requests, "eof", None
            if event is h11.PAUSED:
                # After a request with Upgrade or CONNECT h11 stops parsing: nothing after it is a request.
                return requests, "closed", None
            if isinstance(event, h11.Request):
                headers = {name.lower(): value for name, value in event.headers}
                current = {
                    "method": event.method.decode("latin1"),
                    "target": event.target.decode("latin1"),
                    "body": None,
                    "upgrade": b"upgrade" in headers,
                    "chunks": [],
                }
                requests.append(current)
            elif isinstance(event, h11.Data):
                current["chunks"].append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                current["body"] = base64.b64encode(b"".join(current.pop("chunks"))).decode()
                conn.send(h11.Response(status_code=200, headers=[("content-length", "0")]))
                conn.send(h11.EndOfMessage())
                if conn.our_state is h11.MUST_CLOSE:
                    return requests, "closed", None
                conn.start_next_cycle()
    except h11.RemoteProtocolError as error:
        reason = str(error)[:120]
        # The bytes ran out inside a message: truncated, not refused (the harness half-closed).
        return requests, "eof" if reason.startswith("peer closed connection") else "refused", reason
    except h11.LocalProtocolError as error:
        return requests, "refused", "local: " + str(error)[:120]
    finally:
        for request in requests:
            request.pop("chunks", None)


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        query = json.loads(line)
        requests, end, reason = split(base64.b64decode(query["data"]))
        answer = {"id": query["id"], "requests": requests, "end": end, "reason": reason}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
