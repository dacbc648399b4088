"""Interop client for websocket_interop_test.ts: Python `websockets` against the relay's raw mode.

Usage: interop_python.py ws://HOST:PORT SIZE,SIZE,... STEP_TIMEOUT_MS

Echoes every size as text and binary on one connection (the relay broadcasts each message to every
subscriber of the channel, the sender included), then closes two more connections with 1000 and with
4000 plus a reason. Prints one JSON line: a list of {"name", "ok", "detail"} checks, in the same shape and
order as the TypeScript client of the test.
"""

import asyncio
import json
import secrets
import sys

import websockets


def text(n: int) -> str:
    """A string of exactly n UTF-8 bytes mixing 1- to 4-byte characters."""

    def cycle(size: int) -> str:
        units = ["a", "é", "€", "😀"]
        out = []
        left = size
        i = 0
        while left > 0:
            unit = units[i % 4]
            width = len(unit.encode())
            if width > left:
                unit, width = "a", 1
            out.append(unit)
            left -= width
            i += 1
        return "".join(out)

    return cycle(1024) * (n // 1024) + cycle(n % 1024)


def binary(n: int) -> bytes:
    """Byte i is (i * 31 + (i >> 8)) & 0xFF, as in the TypeScript client; the pattern repeats every 64 KiB."""
    period = bytes((i * 31 + (i >> 8)) & 0xFF for i in range(65536))
    return period * (n // 65536) + period[: n % 65536]


def url_for(base: str) -> str:
    return f"{base}/ws/interop-py-{secrets.token_hex(6)}"


async def echo_checks(base: str, sizes: list[int], timeout: float) -> list[dict]:
    checks = []
    # max_size=None: the relay's limit is what is under test, not the client's default of 1 MiB.
    async with websockets.connect(url_for(base), max_size=None, open_timeout=timeout) as ws:
        for size in sizes:
            for kind in ("text", "binary"):
                name = f"{kind} message of {size} bytes is echoed byte-exact"
                sent = text(size) if kind == "text" else binary(size)
                try:
                    await ws.send(sent)
                    got = await asyncio.wait_for(ws.recv(), timeout)
                except Exception as e:  # noqa: BLE001 - report any failure as a check
                    checks.append({"name": name, "ok": False, "detail": f"{type(e).__name__}: {e}"})
                    continue
                if type(got) is not type(sent):
                    detail = f"got {type(got).__name__} instead of {type(sent).__name__}"
                elif got != sent:
                    detail = f"content differs ({len(got)} vs {len(sent)} characters or bytes)"
                else:
                    detail = ""
                checks.append({"name": name, "ok": detail == "", "detail": detail})
    return checks


async def close_check(base: str, code: int, reason: str, timeout: float) -> dict:
    name = f"close {code}{' with a reason' if reason else ''} round-trips cleanly"
    ws = await websockets.connect(url_for(base), open_timeout=timeout, close_timeout=timeout)
    await ws.close(code, reason)
    received = ws.close_rcvd
    got_code, got_reason = (received.code, received.reason) if received else (None, None)
    ok = got_code == code and got_reason == reason
    detail = "" if ok else f"code {got_code}, reason {got_reason!r}"
    return {"name": name, "ok": ok, "detail": detail}


async def main() -> None:
    base, sizes, step_ms = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], int(sys.argv[3])
    timeout = step_ms / 1000
    checks = await echo_checks(base, sizes, timeout)
    for code, reason in ((1000, ""), (4000, "bye: κόσμε")):
        checks.append(await close_check(base, code, reason, timeout))
    print(json.dumps(checks))


if __name__ == "__main__":
    asyncio.run(main())
