#!/usr/bin/env python3
"""pxe-scapy-send.py: send one BOOTP/DHCP payload with scapy and print scapy's dissection of
every reply with the same transaction id. Used by pxe/tests/dhcp_netns.rs inside a network
namespace the test creates, so that the DISCOVERs are byte for byte those of real firmware
(built by the test) and the replies are read by a decoder we did not write.

  pxe-scapy-send.py IFACE HEX [--timeout S]
      broadcast from 0.0.0.0:68 to 255.255.255.255:67 on IFACE (Ethernet source = chaddr)
  pxe-scapy-send.py IFACE HEX --to IP --port 4011 --src IP [--timeout S]
      unicast over an ordinary UDP socket from SRC:68 (the PXE boot server step)

One line per reply:
  REPLY src=IP sport=N yiaddr=IP siaddr=IP file=HEX sname=HEX opt:NAME=HEX ...
where NAME is scapy's name of the option and HEX its value as scapy decoded it (bytes as is,
anything else as its text). Exit status 0 in every case; the test judges.
"""
import argparse
import socket
import sys
import time

from scapy.all import BOOTP, DHCP, IP, UDP, AsyncSniffer, Ether, Raw, conf, sendp

p = argparse.ArgumentParser()
p.add_argument("iface")
p.add_argument("payload", help="the BOOTP message, hex")
p.add_argument("--timeout", type=float, default=2.0)
p.add_argument("--to", help="unicast to this address instead of broadcasting")
p.add_argument("--port", type=int, default=67)
p.add_argument("--src", help="source address for --to")
a = p.parse_args()

conf.checkIPaddr = False
conf.verb = 0
payload = bytes.fromhex(a.payload)
xid = payload[4:8]
mac = payload[28:34]


def hexval(v):
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v).encode().hex()
    return str(v).encode().hex()


def show(b, src, sport):
    fields = [
        f"REPLY src={src} sport={sport} yiaddr={b.yiaddr} siaddr={b.siaddr}",
        f"file={b.file.rstrip(bytes(1)).hex()} sname={b.sname.rstrip(bytes(1)).hex()}",
    ]
    if DHCP in b:
        for o in b[DHCP].options:
            if isinstance(o, tuple):
                name = str(o[0]).replace(" ", "_")
                fields.append(f"opt:{name}={hexval(o[1] if len(o) == 2 else list(o[1:]))}")
    print(" ".join(fields), flush=True)


if a.to:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, a.iface.encode())
    s.bind((a.src or "0.0.0.0", 68))
    s.settimeout(a.timeout)
    s.sendto(payload, (a.to, a.port))
    end = time.time() + a.timeout
    while time.time() < end:
        try:
            data, (src, sport) = s.recvfrom(65535)
        except socket.timeout:
            break
        b = BOOTP(data)
        if bytes(b)[4:8] == xid:
            show(b, src, sport)
    sys.exit(0)

sn = AsyncSniffer(
    iface=a.iface,
    filter="udp and dst port 68",
    lfilter=lambda q: BOOTP in q and q[BOOTP].op == 2 and q[BOOTP].xid == int.from_bytes(xid, "big"),
)
sn.start()
time.sleep(0.3)
pkt = (
    Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
    / IP(src="0.0.0.0", dst="255.255.255.255")
    / UDP(sport=68, dport=a.port)
    / Raw(load=payload)  # byte for byte as given, not re-encoded by scapy
)
sendp(pkt, iface=a.iface)
time.sleep(a.timeout)
for q in sn.stop():
    show(q[BOOTP], q[IP].src, q[UDP].sport)
