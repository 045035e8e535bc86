"""router/test/silent_node.py: a node that stops answering, for the router tests.

    python3 silent_node.py mute           accept connections, never answer
    python3 silent_node.py relay SOCKET   relay each connection to a real
                                          server's Unix socket until the
                                          client sends a message containing
                                          b"SILENT"; then swallow everything
                                          and answer nothing more (a cancel
                                          request, on its own connection,
                                          still reaches the server)
    python3 silent_node.py partition SOCKET
                                          the same, but once a connection
                                          went silent the whole node does:
                                          later connections (a cancel
                                          request too) are accepted and
                                          never answered, as behind a
                                          network that drops the traffic
    python3 silent_node.py stall SOCKET   the same relay, but once a
                                          message contains SILENT it stops
                                          reading that connection (a
                                          stopped node: the sender's
                                          buffers fill up)

Listens on a free loopback port and prints it on its first line.
"""
import select
import socket
import sys
import threading


def mute(conn):
    while conn.recv(65536):
        pass
    conn.close()


NODE_SILENT = threading.Event()


def relay(conn, path):
    if NODE_SILENT.is_set():
        mute(conn)
        return
    up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    up.connect(path)
    silent = False
    try:
        while True:
            r, _, _ = select.select([conn, up], [], [])
            if conn in r:
                data = conn.recv(65536)
                if not data:
                    return
                if b"SILENT" in data:
                    silent = True
                    if sys.argv[1] == "stall":
                        threading.Event().wait()   # never read again
                    if sys.argv[1] == "partition":
                        NODE_SILENT.set()
                if not silent:
                    up.sendall(data)
            if up in r:
                data = up.recv(65536)
                if not data:
                    return
                if not silent:
                    conn.sendall(data)
    finally:
        up.close()
        conn.close()


def main():
    mode = sys.argv[1]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if mode == "stall":
        # a small window: the sender's buffers, not ours, hold what is unread
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print(srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        args = (conn,) if mode == "mute" else (conn, sys.argv[2])  # relay, partition
        threading.Thread(target=mute if mode == "mute" else relay, args=args, daemon=True).start()
        del conn, args          # the thread alone holds the connection



if __name__ == "__main__":
    main()
