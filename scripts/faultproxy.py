#!/usr/bin/env python3
"""A TCP proxy that breaks connections on purpose, for tests of retries and resume.

    faultproxy.py --listen 127.0.0.1:0 --target 127.0.0.1:16380 [--drop-after-bytes N] [--stall-ms MS]
                  [--reset-between MIN MAX] [--seed S] [--port-file PATH]

Forwards every connection to --target. With --drop-after-bytes N, each connection is closed abruptly (both
sides) once N bytes have gone from the client to the target, so a batch dies mid-request; the count starts
again on the next connection. With --reset-between MIN MAX, each
connection is reset (RST) after a random number of client bytes between MIN and MAX, drawn anew for every
connection (a flaky link that cuts every few hundred KB; --seed makes the draws repeatable). With --stall-ms MS, every 64 KiB from the client waits MS milliseconds first.
The chosen port is written to --port-file (for --listen …:0). Binds only where --listen says; bounded by
the life of the process (a test kills it).
"""
import argparse
import asyncio
import random
import socket


async def pipe(reader, writer, budget, stall):
    """Copies reader to writer; returns when either side closes or the budget runs out."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if stall:
                await asyncio.sleep(stall / 1000)
            if budget is not None:
                if budget[0] <= len(data):
                    writer.write(data[:budget[0]])
                    raise ConnectionAbortedError
                budget[0] -= len(data)
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def handle(client_reader, client_writer, args):
    try:
        host, port = args.target.rsplit(":", 1)
        target_reader, target_writer = await asyncio.open_connection(host, int(port))
    except OSError:
        client_writer.close()
        return
    budget = [args.drop_after_bytes] if args.drop_after_bytes else None
    if args.reset_between:
        budget = [args.random.randint(*args.reset_between)]
    upstream = asyncio.create_task(pipe(client_reader, target_writer, budget, args.stall_ms))
    downstream = asyncio.create_task(pipe(target_reader, client_writer, None, 0))
    done, pending = await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for writer in (client_writer, target_writer):
        sock = writer.get_extra_info("socket")
        if sock is not None and any(isinstance(t.exception(), ConnectionAbortedError) for t in done if not t.cancelled()):
            # An abrupt close (RST), as a dying load balancer or a failed node gives.
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass  # the peer closed it first: nothing left to reset
        writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--target", required=True)
    parser.add_argument("--drop-after-bytes", type=int, default=0)
    parser.add_argument("--stall-ms", type=int, default=0)
    parser.add_argument("--reset-between", type=int, nargs=2, metavar=("MIN", "MAX"))
    parser.add_argument("--seed", type=int)
    parser.add_argument("--port-file")
    args = parser.parse_args()
    args.random = random.Random(args.seed)
    host, port = args.listen.rsplit(":", 1)
    server = await asyncio.start_server(lambda r, w: handle(r, w, args), host, int(port))
    if args.port_file:
        with open(args.port_file, "w") as out:
            out.write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
