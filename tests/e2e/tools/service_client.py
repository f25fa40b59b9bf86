#!/usr/bin/env python3
"""service_client.py: the client side of tests/e2e/service_test.sh.

service_test.sh runs it inside a client pod's network namespace and in a cgroup below the
node's pod subtree (so the node's socket load balancer applies to its sockets, as to the
pod's own processes). Every wait has a deadline; every result is one printed line.

  tcp VIP PORT N               N sequential HTTP/1.0 GETs of /cgi-bin/who: "NAME IP" or "ERR why"
  udp-connected VIP PORT N     N connected UDP sockets, one datagram each:
                               "NAME peer=IP:PORT" (getpeername) or "ERR why"
  udp-unconnected VIP PORT N   one unconnected socket, N sendto/recvfrom:
                               "NAME from=IP:PORT" (recvfrom's source) or "ERR why"
  refused VIP PORT N           N connects: "errno-name milliseconds" each
  hold VIP PORT GO             one TCP connection; prints the backend's first line, then
                               waits for the file GO and prints how long the connection
                               lived after it: "ended MS reason"
  loop VIP PORT STOP           GETs back to back until the file STOP exists:
                               "ok=N fail=M" and the first failures
  udp-server PORT NAME READY   (in a backend pod's namespace) answers every datagram with
                               NAME; creates the file READY once bound; runs until killed
"""
import errno
import os
import socket
import sys
import time


def err_name(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if isinstance(e, OSError) and e.errno else type(e).__name__


def get(vip, port, timeout=5.0):
    with socket.create_connection((vip, port), timeout=timeout) as s:
        s.sendall(b"GET /cgi-bin/who HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    body = data.split(b"\r\n\r\n", 1)[-1].decode().strip()
    return body.splitlines()[-1] if body else "EMPTY"


def cmd_tcp(vip, port, n):
    for _ in range(int(n)):
        try:
            print(get(vip, int(port)), flush=True)
        except OSError as e:
            print("ERR", err_name(e), flush=True)


def cmd_udp_connected(vip, port, n):
    for _ in range(int(n)):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            try:
                s.connect((vip, int(port)))
                s.send(b"ping")
                name = s.recv(200).decode().strip()
                peer = s.getpeername()
                print(f"{name} peer={peer[0]}:{peer[1]}", flush=True)
            except OSError as e:
                print("ERR", err_name(e), flush=True)


def cmd_udp_unconnected(vip, port, n):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        for _ in range(int(n)):
            try:
                s.sendto(b"ping", (vip, int(port)))
                data, src = s.recvfrom(200)
                print(f"{data.decode().strip()} from={src[0]}:{src[1]}", flush=True)
            except OSError as e:
                print("ERR", err_name(e), flush=True)


def cmd_refused(vip, port, n):
    for _ in range(int(n)):
        s = socket.socket()
        s.settimeout(5)
        t0 = time.monotonic()
        try:
            s.connect((vip, int(port)))
            what = "CONNECTED"
        except OSError as e:
            what = err_name(e)
        ms = (time.monotonic() - t0) * 1000
        s.close()
        print(f"{what} {ms:.2f}", flush=True)


def cmd_hold(vip, port, go):
    s = socket.create_connection((vip, int(port)), timeout=5)
    first = b""
    while not first.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            break
        first += chunk
    print(first.decode().strip(), flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            print("ended never: no go file", flush=True)
            return
        time.sleep(0.005)
    t0 = time.monotonic()
    s.settimeout(10)
    try:
        while True:
            if not s.recv(100):
                reason = "EOF"
                break
    except OSError as e:
        reason = err_name(e)
    print(f"ended {(time.monotonic() - t0) * 1000:.0f} {reason}", flush=True)


def cmd_loop(vip, port, stop):
    ok = fail = 0
    errors = []
    deadline = time.monotonic() + 300
    while not os.path.exists(stop) and time.monotonic() < deadline:
        try:
            get(vip, int(port), timeout=3)
            ok += 1
        except OSError as e:
            fail += 1
            if len(errors) < 5:
                errors.append(f"{time.strftime('%H:%M:%S')} {err_name(e)}")
    print(f"ok={ok} fail={fail}", *errors, flush=True)


def cmd_udp_server(port, name, ready):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(port)))
    open(ready, "w").close()
    while True:
        _, src = s.recvfrom(200)
        s.sendto(name.encode(), src)


def main():
    cmds = {"tcp": cmd_tcp, "udp-connected": cmd_udp_connected, "udp-unconnected": cmd_udp_unconnected,
            "refused": cmd_refused, "hold": cmd_hold, "loop": cmd_loop, "udp-server": cmd_udp_server}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(cmds)} ARGS...")
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
