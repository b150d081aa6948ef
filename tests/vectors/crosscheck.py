#!/usr/bin/env python3
"""Independent implementation of OnionChat's wire crypto (docs/protocol.md),
using only Python's `cryptography` and `cbor2` packages.

    crosscheck.py verify FILE    check vectors made by the Rust code
    crosscheck.py generate FILE  make vectors for the Rust code to check

Exits non-zero with a message on the first mismatch.
"""
import hashlib
import json
import os
import sys

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def fail(msg):
    sys.exit(f"crosscheck: {msg}")


def check(cond, msg):
    if not cond:
        fail(msg)


def signed_bytes(context, body):
    return b"OnionChat-v1/" + context.encode() + b"\0" + body


def spki(pub):
    return pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def safety_number(fp_a, fp_b):
    lo, hi = sorted([fp_a, fp_b])
    h = hashlib.sha256(b"OnionChat-v1/safety-number\0" + lo + hi).digest()
    return " ".join(f"{int.from_bytes(h[i:i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5))


def roster_hash(body):
    return hashlib.sha256(b"OnionChat-v1/roster-hash\0" + body).digest()


def message_aad(v, room, epoch, sender_fp, msg_id):
    return (b"OnionChat-v1/message\0" + v.to_bytes(2, "big") + room + epoch.to_bytes(4, "big")
            + sender_fp + msg_id)


def file_key_aad(room, epoch, file_id):
    return b"OnionChat-v1/file-key\0" + room + epoch.to_bytes(4, "big") + file_id


def chunk_nonce(prefix, i, last):
    return prefix + i.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def chunk_aad(file_id):
    return b"OnionChat-v1/file-chunk\0" + file_id


# Content kinds inside a message's ciphertext (protocol §5): exact keys and
# value types, per "type".
SHAPES = {
    "text": {"type": str, "text": str},
    "file": {"type": str, "file_id": bytes, "name": str, "mime": (str, type(None)), "size": int, "sha256": bytes},
    "reply": {"type": str, "to": bytes, "excerpt": str, "text": str},
    "reaction": {"type": str, "to": bytes, "emoji": str, "on": bool},
    "delete": {"type": str, "to": bytes},
    "rename": {"type": str, "name": str},
}
PREVIEW = {"mime": str, "width": int, "height": int, "bytes": bytes, "full_width": int, "full_height": int}
ERASE = {"v": int, "room_id": bytes, "sender_fp": bytes, "seq": int, "msg_id": bytes, "stream": int, "counter": int,
         "erased_at": int}


def check_shape(d, shape, what):
    check(set(d) == set(shape), f"{what}: keys {sorted(d)} are not {sorted(shape)}")
    for k, t in shape.items():
        check(isinstance(d[k], t), f"{what}: {k} is {type(d[k]).__name__}")


def check_content(c, what):
    shape = dict(SHAPES[c["type"]])
    if c["type"] == "file" and "preview" in c:
        shape["preview"] = dict
        check_shape(c["preview"], PREVIEW, f"{what} preview")
        p = c["preview"]
        check(len(p["bytes"]) <= 24 * 1024 and 1 <= p["width"] <= 480 and 1 <= p["height"] <= 480, f"{what}: preview bounds")
    check_shape(c, shape, what)
    for k in ("to", "file_id"):
        if k in c:
            check(len(c[k]) == 16, f"{what}: {k} is not 16 bytes")
    if c["type"] == "reply":
        check(len(c["excerpt"].encode()) <= 200, f"{what}: excerpt too long")
    if c["type"] == "reaction":
        check(1 <= len(c["emoji"].encode()) <= 32, f"{what}: reaction length")
    if c["type"] == "rename":
        check(1 <= len(c["name"].encode()) <= 64, f"{what}: name length")


def as_json(x):
    """CBOR-decoded content as the JSON the vectors carry (bytes as hex)."""
    if isinstance(x, bytes):
        return x.hex()
    if isinstance(x, dict):
        return {k: as_json(v) for k, v in x.items()}
    return x


def open_message(pub, env, room, room_key):
    body = bytes.fromhex(env["body"])
    pub.verify(bytes.fromhex(env["signature"]), signed_bytes("message", body), PSS, hashes.SHA256())
    mb = cbor2.loads(body)
    check(mb["room_id"] == room, "message for another room")
    aad = message_aad(mb["v"], mb["room_id"], mb["epoch"], mb["sender_fp"], mb["msg_id"])
    return mb, cbor2.loads(AESGCM(room_key).decrypt(mb["nonce"], mb["ciphertext"], aad))


def verify(path):
    v = json.load(open(path))
    keys = {}
    for name in ("alice", "bob"):
        k = serialization.load_pem_private_key(v[name]["private_pkcs8_pem"].encode(), None)
        check(k.key_size == 3072 and k.public_key().public_numbers().e == 65537, f"{name}: not RSA-3072/65537")
        der = spki(k.public_key())
        check(der.hex() == v[name]["spki_der"], f"{name}: SPKI DER differs")
        check(hashlib.sha256(der).hexdigest() == v[name]["fingerprint"], f"{name}: fingerprint differs")
        keys[name] = k
    alice, bob = keys["alice"], keys["bob"]
    enc = serialization.load_pem_private_key(v["alice"]["encrypted_pkcs8_pem"].encode(), v["alice"]["passphrase"].encode())
    check(spki(enc.public_key()) == spki(alice.public_key()), "encrypted PKCS#8 is not alice's key")
    try:
        serialization.load_pem_private_key(v["alice"]["encrypted_pkcs8_pem"].encode(), b"wrong")
        fail("wrong passphrase accepted")
    except ValueError:
        pass
    fa, fb = bytes.fromhex(v["alice"]["fingerprint"]), bytes.fromhex(v["bob"]["fingerprint"])
    check(safety_number(fa, fb) == v["safety_number"], "safety number differs")
    s = v["signature"]
    alice.public_key().verify(bytes.fromhex(s["signature"]), signed_bytes(s["context"], bytes.fromhex(s["body"])), PSS, hashes.SHA256())
    try:
        alice.public_key().verify(bytes.fromhex(s["signature"]), signed_bytes("message", bytes.fromhex(s["body"])), PSS, hashes.SHA256())
        fail("signature verified under another context")
    except Exception as e:  # InvalidSignature
        if "crosscheck" in str(e):
            raise
    room = bytes.fromhex(v["room_id"])
    room_key = bytes.fromhex(v["room_key"])

    r = v["roster"]
    rbody = bytes.fromhex(r["body"])
    alice.public_key().verify(bytes.fromhex(r["signature"]), signed_bytes("roster", rbody), PSS, hashes.SHA256())
    rb = cbor2.loads(rbody)
    check(rb["v"] == 3 and rb["room_id"] == room and rb["version"] == 1 and rb["prev"] is None, "roster fields")
    check(rb["change"] == "create" and rb["kind"] == "group" and rb["actor_fp"] == fa, "roster change/signer")
    check([(m["user"], m["fp"]) for m in rb["members"]] == [(1, fa), (2, fb)], "roster members")
    check(rb["admins"] == [rb["actor"]], "roster admins")
    check(roster_hash(rbody).hex() == r["hash"], "roster hash differs")
    # A roster signature is bound to its context too.
    try:
        alice.public_key().verify(bytes.fromhex(r["signature"]), signed_bytes("key-grant", rbody), PSS, hashes.SHA256())
        fail("roster signature verified as a key grant")
    except Exception as e:
        if "crosscheck" in str(e):
            raise

    g = v["grant"]
    gbody = bytes.fromhex(g["body"])
    alice.public_key().verify(bytes.fromhex(g["signature"]), signed_bytes("key-grant", gbody), PSS, hashes.SHA256())
    gb = cbor2.loads(gbody)
    check(gb["v"] == 3 and gb["room_id"] == room and gb["epoch"] == g["epoch"], "grant fields")
    check(gb["roster"] == roster_hash(rbody), "grant is bound to another roster")
    check(gb["recipient"] == g["recipient_id"] and gb["recipient_fp"] == fb and gb["granter_fp"] == fa, "grant parties")
    check(bob.decrypt(gb["wrapped_key"], OAEP) == room_key, "grant unwraps to another key")

    m = v["message"]
    mbody = bytes.fromhex(m["body"])
    alice.public_key().verify(bytes.fromhex(m["signature"]), signed_bytes("message", mbody), PSS, hashes.SHA256())
    mb = cbor2.loads(mbody)
    check(mb["room_id"] == room and mb["sender_fp"] == fa and mb["msg_id"].hex() == m["msg_id"], "message fields")
    check(mb["v"] == 3 and mb["stream"] == m["stream"] and mb["counter"] == m["counter"], "message stream/counter")
    check(mb["roster"] == {"version": 1, "hash": roster_hash(rbody)}, "message names another roster")
    aad = message_aad(mb["v"], mb["room_id"], mb["epoch"], mb["sender_fp"], mb["msg_id"])
    check(aad.hex() == m["aad"], "AAD layout differs")
    content = cbor2.loads(AESGCM(room_key).decrypt(mb["nonce"], mb["ciphertext"], aad))
    check(content == {"type": "text", "text": m["text"]}, f"message content {content!r}")

    check_content(content, "text message")

    kinds = v["contents"]
    check(len(kinds) >= 5, "too few content kinds")
    seen = set()
    for i, k in enumerate(kinds):
        _, c = open_message(alice.public_key(), k, room, room_key)
        check_content(c, f"content {i}")
        check(as_json(c) == k["content"], f"content {i}: {as_json(c)!r} != {k['content']!r}")
        seen.add(c["type"])
    check({"reply", "reaction", "delete", "rename", "file"} <= seen, f"content kinds {sorted(seen)}")

    e = v["erase"]
    ebody = bytes.fromhex(e["body"])
    alice.public_key().verify(bytes.fromhex(e["signature"]), signed_bytes("erase", ebody), PSS, hashes.SHA256())
    try:
        alice.public_key().verify(bytes.fromhex(e["signature"]), signed_bytes("message", ebody), PSS, hashes.SHA256())
        fail("erase signature verified as a message")
    except Exception as ex:
        if "crosscheck" in str(ex):
            raise
    eb = cbor2.loads(ebody)
    check_shape(eb, ERASE, "erase request")
    check(eb["v"] == 3 and eb["room_id"] == room and eb["sender_fp"] == fa and eb["seq"] == e["seq"], "erase fields")
    check((eb["msg_id"], eb["stream"], eb["counter"]) == (mb["msg_id"], mb["stream"], mb["counter"]),
          "erase request names another message")
    check(eb["erased_at"] == e["erased_at"], "erase time")

    f = v["file"]
    hbody = bytes.fromhex(f["header_body"])
    alice.public_key().verify(bytes.fromhex(f["header_signature"]), signed_bytes("file-header", hbody), PSS, hashes.SHA256())
    hb = cbor2.loads(hbody)
    fkey = AESGCM(room_key).decrypt(hb["key_nonce"], hb["wrapped_file_key"], file_key_aad(hb["room_id"], hb["epoch"], hb["file_id"]))
    ct = bytes.fromhex(f["ciphertext"])
    size = hb["chunk_size"] + 16
    n = max(1, -(-hb["plaintext_len"] // hb["chunk_size"]))
    check(len(ct) == hb["plaintext_len"] + 16 * n, "file ciphertext length")
    out = b""
    for i in range(n):
        out += AESGCM(fkey).decrypt(chunk_nonce(hb["nonce_prefix"], i, i == n - 1), ct[i * size:(i + 1) * size], chunk_aad(hb["file_id"]))
    check(out.hex() == f["plaintext"], "file plaintext differs")
    # Truncation must be detected: the last full chunk is not marked final.
    if n > 1:
        try:
            AESGCM(fkey).decrypt(chunk_nonce(hb["nonce_prefix"], n - 2, True), ct[(n - 2) * size:(n - 1) * size], chunk_aad(hb["file_id"]))
            fail("a non-final chunk opened as final")
        except Exception as e:
            if "crosscheck" in str(e):
                raise
    print(f"crosscheck: {path}: all checks passed ({v['made_by']})")


def generate(path):
    alice = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    bob = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    fa, fb = hashlib.sha256(spki(alice.public_key())).digest(), hashlib.sha256(spki(bob.public_key())).digest()
    sign = lambda ctx, body: alice.sign(signed_bytes(ctx, body), PSS, hashes.SHA256())
    room, room_key = os.urandom(16), AESGCM.generate_key(256)
    login = b"python login body"
    members = [{"user": 1, "username": "alice", "fp": fa}, {"user": 2, "username": "bob", "fp": fb}]
    rbody = cbor2.dumps({"v": 3, "room_id": room, "kind": "group", "version": 1, "prev": None, "change": "create",
                         "actor": 1, "actor_fp": fa, "members": members, "admins": [1], "created_at": 1700000000000})
    gbody = cbor2.dumps({"v": 3, "room_id": room, "epoch": 1, "recipient": 2, "recipient_fp": fb,
                         "granter_fp": fa, "roster": roster_hash(rbody),
                         "wrapped_key": bob.public_key().encrypt(room_key, OAEP)})
    msg_id, nonce, text = os.urandom(16), os.urandom(12), "Hallo aus Python ✓"
    aad = message_aad(3, room, 1, fa, msg_id)
    ct = AESGCM(room_key).encrypt(nonce, cbor2.dumps({"type": "text", "text": text}), aad)
    mbody = cbor2.dumps({"v": 3, "room_id": room, "epoch": 1, "sender_fp": fa, "msg_id": msg_id,
                         "sent_at": 1700000000000, "stream": 99, "counter": 3,
                         "roster": {"version": 1, "hash": roster_hash(rbody)}, "nonce": nonce, "ciphertext": ct})
    rref = {"version": 1, "hash": roster_hash(rbody)}
    kinds = [
        {"type": "reply", "to": msg_id, "excerpt": text, "text": "Antwort ↩"},
        {"type": "reaction", "to": msg_id, "emoji": "🎉", "on": True},
        {"type": "reaction", "to": msg_id, "emoji": "🎉", "on": False},
        {"type": "delete", "to": msg_id},
        {"type": "rename", "name": "Les Dupont"},
        {"type": "file", "file_id": os.urandom(16), "name": "bild.png", "mime": "image/png", "size": 999,
         "sha256": hashlib.sha256(b"x").digest(),
         "preview": {"mime": "image/jpeg", "width": 3, "height": 2, "bytes": b"\xff\xd8\xff\xd9",
                     "full_width": 300, "full_height": 200}},
    ]
    contents = []
    for i, c in enumerate(kinds):
        kid, knonce = os.urandom(16), os.urandom(12)
        kct = AESGCM(room_key).encrypt(knonce, cbor2.dumps(c), message_aad(3, room, 1, fa, kid))
        kbody = cbor2.dumps({"v": 3, "room_id": room, "epoch": 1, "sender_fp": fa, "msg_id": kid,
                             "sent_at": 1700000000000, "stream": 99, "counter": 4 + i, "roster": rref,
                             "nonce": knonce, "ciphertext": kct})
        contents.append({"body": kbody.hex(), "signature": sign("message", kbody).hex(), "content": as_json(c)})
    ebody = cbor2.dumps({"v": 3, "room_id": room, "sender_fp": fa, "seq": 7, "msg_id": msg_id, "stream": 99,
                         "counter": 3, "erased_at": 1700000000999})
    plaintext = bytes(i * 13 % 256 for i in range(3000))
    file_id, prefix, fkey, key_nonce = os.urandom(16), os.urandom(7), AESGCM.generate_key(256), os.urandom(12)
    chunk = 1024
    n = max(1, -(-len(plaintext) // chunk))
    fct = b"".join(AESGCM(fkey).encrypt(chunk_nonce(prefix, i, i == n - 1), plaintext[i * chunk:(i + 1) * chunk], chunk_aad(file_id))
                   for i in range(n))
    hbody = cbor2.dumps({"v": 3, "room_id": room, "epoch": 1, "sender_fp": fa, "file_id": file_id, "chunk_size": chunk,
                         "plaintext_len": len(plaintext), "nonce_prefix": prefix, "key_nonce": key_nonce,
                         "wrapped_file_key": AESGCM(room_key).encrypt(key_nonce, fkey, file_key_aad(room, 1, file_id))})
    pem = lambda k, enc=serialization.NoEncryption(): k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc).decode()
    out = {
        "version": 3, "made_by": f"python cryptography {__import__('cryptography').__version__}",
        "alice": {"private_pkcs8_pem": pem(alice), "spki_der": spki(alice.public_key()).hex(), "fingerprint": fa.hex(),
                  "encrypted_pkcs8_pem": pem(alice, serialization.BestAvailableEncryption(b"python passphrase")),
                  "passphrase": "python passphrase"},
        "bob": {"private_pkcs8_pem": pem(bob), "spki_der": spki(bob.public_key()).hex(), "fingerprint": fb.hex()},
        "safety_number": safety_number(fa, fb),
        "signature": {"context": "login", "body": login.hex(), "signature": sign("login", login).hex(), "signer": "alice"},
        "room_id": room.hex(), "room_key": room_key.hex(),
        "roster": {"body": rbody.hex(), "signature": sign("roster", rbody).hex(), "signer": "alice",
                   "hash": roster_hash(rbody).hex()},
        "grant": {"body": gbody.hex(), "signature": sign("key-grant", gbody).hex(), "granter": "alice", "recipient": "bob",
                  "recipient_id": 2, "epoch": 1},
        "message": {"body": mbody.hex(), "signature": sign("message", mbody).hex(), "sender": "alice", "aad": aad.hex(),
                    "text": text, "msg_id": msg_id.hex(), "stream": 99, "counter": 3},
        "file": {"header_body": hbody.hex(), "header_signature": sign("file-header", hbody).hex(), "sender": "alice",
                 "ciphertext": fct.hex(), "plaintext": plaintext.hex(), "chunk_size": chunk},
        "contents": contents,
        "erase": {"body": ebody.hex(), "signature": sign("erase", ebody).hex(), "seq": 7, "erased_at": 1700000000999},
    }
    json.dump(out, open(path, "w"), indent=2)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("verify", "generate"):
        sys.exit("usage: crosscheck.py verify|generate FILE")
    (verify if sys.argv[1] == "verify" else generate)(sys.argv[2])
