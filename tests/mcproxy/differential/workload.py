"""The differential test's workload: seeded random sequences of plain commands over a small key
space of their own, sent in pipelined batches to both sides and compared.

A value is lower case letters and digits only, so no reply line ("VALUE", "END", "MN", errors) can
be forged by a value and a batch's end is its closing `mn`'s answer."""
import re
import time

from servers import ITEM_SIZE_MAX

ABSOLUTE_PAST = "1000000000"  # > 30 days: an absolute time, in 2001: expired at once
LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"
FILLER = (LETTERS * (ITEM_SIZE_MAX // len(LETTERS) + 2)).encode()
BIG_NUMBER = re.compile(rb"\d{19}")
BAD_DELTAS = ["abc", "-1", "18446744073709551616", "1.5"]
VALUE_LINE = re.compile(rb"(?:^|(?<=\n))VALUE (\S+) (\d+) (\d+)(?: (\d+))?\r\n")


class Cas:
    """A CAS value a `cas` command quotes: the n-th distinct one a side has shown, so each side
    gets its own number for the same item."""

    def __init__(self, index):
        self.index = index


def value(rng, now):
    r = rng.random()
    if r < 0.30:
        return str(rng.randint(0, 1000)).encode()
    if r < 0.45:
        return rng.choice(["18446744073709551615", "18446744073709551614", "9223372036854775807",
                           "10000000000000000000", "99999999999999999999", "100", "10",
                           str(rng.getrandbits(64))]).encode()
    if r < 0.50:
        return b""
    if r < 0.985:
        n = rng.randint(1, 60)
        return "".join(rng.choice(LETTERS) for _ in range(n)).encode()
    if r < 0.997:
        n = rng.randint(1000, 200_000)
    else:
        # memcached's item size limit: the largest values that fit, the limit itself, one over.
        n = rng.choice([ITEM_SIZE_MAX - rng.randint(200, 700), ITEM_SIZE_MAX - 300,
                        ITEM_SIZE_MAX, ITEM_SIZE_MAX + 1])
    start = rng.randint(0, len(LETTERS) - 1)
    return FILLER[start:start + n]


def exptime(rng, now):
    # Never a short positive TTL: the two sides are not served at the same instant.
    return rng.choice(["0", "0", "0", "3600", "2000000", "-1", str(now + 3600), ABSOLUTE_PAST])


def delta(rng):
    r = rng.random()
    if r < 0.93:
        return rng.choice(["1", "0", str(rng.randint(1, 1000)), "18446744073709551615",
                           str(rng.getrandbits(64)), str(rng.getrandbits(20))])
    return rng.choice(BAD_DELTAS)


def noreply(rng):
    return " noreply" if rng.random() < 0.15 else ""


class Sequence:
    def __init__(self, rng, prefix, mode, exempt):
        self.mode, self.exempt = mode, exempt
        self.keys = []
        for i in range(rng.randint(1, 12)):
            # No "-" in a key: see incr-past-2^63 (memcached looks for one past the value).
            k = f"{prefix}_{i}"
            if rng.random() < 0.15:
                k = k + "k" * (250 - len(k))  # memcached's longest key
            self.keys.append(k)
        self.may_be_big = set()  # keys that may hold a number of 2^63 or more
        self.big_incremented = set()  # ... and had a noreply incr/decr since (incr-past-2^63)
        self.known = None  # the id of the listed difference that ended this sequence
        self.cas = [{}, {}]  # per side: CAS number -> order of appearance
        self.cas_by_index = [[], []]
        self.batches = rng.randint(1, 8)
        self.log = []  # (segment text as the direct side got it, direct reply, proxy reply)
        self.commands_sent = 0
        self.batches_sent = 0
        self.failed = None

    def key(self, rng):
        return rng.choice(self.keys)

    def command(self, rng, now, read_keys, counted):
        """One command as parts (bytes and Cas), its verb, and whether it must start a new
        segment (see run)."""
        verb = rng.choice(["get", "gets", "gat", "gats", "set", "set", "add", "replace", "append",
                           "prepend", "cas", "incr", "decr", "touch", "delete"])
        if verb in ("get", "gets", "gat", "gats"):
            r = rng.random()
            n = 1 if r < 0.6 else rng.randint(2, 5) if r < 0.9 else rng.randint(6, 50)
            keys = [self.key(rng) for _ in range(n)]
            ttl = f" {exptime(rng, now)}" if verb in ("gat", "gats") else ""
            line = f"{verb}{ttl} {' '.join(keys)}"
            if verb in ("gat", "gats"):
                while self.exempt(self.mode, "long-line", len(line) + 2) and len(keys) > 1:
                    keys.pop()
                    line = f"{verb}{ttl} {' '.join(keys)}"
            read_keys.update(keys)
            return [f"{line}\r\n".encode()], verb, False
        k = self.key(rng)
        if verb in ("delete", "touch", "cas", "add", "replace", "append", "prepend"):
            read_keys.add(k)  # mcproxy probes the key first (an mg, which holds the item)
        if verb == "delete":
            return [f"delete {k}{noreply(rng)}\r\n".encode()], verb, False
        if verb in ("incr", "decr"):
            # memcached rewrites a shrinking number in place, space-padded, only when no
            # unsent reply still holds the item, and mcproxy's mg for get/gat and its probes
            # hold it more often: waiting for earlier replies makes that the same on both sides
            # (docs/mcproxy.md "Differences from memcached", incr-padding).
            counted.add(k)
            d = delta(rng)
            quiet = noreply(rng)
            if k in self.may_be_big and quiet:
                self.big_incremented.add(k)  # a silent incr-past-2^63 shows in a later value
            if verb == "incr" and len(d) >= 19:
                self.may_be_big.add(k)
            return [f"{verb} {k} {d}{quiet}\r\n".encode()], verb, k in read_keys
        if verb == "touch":
            return [f"touch {k} {exptime(rng, now)}{noreply(rng)}\r\n".encode()], verb, False
        flags = rng.choice([0, 1, 12345, 2**32 - 1, rng.getrandbits(32)])
        data = value(rng, now)
        if self.exempt(self.mode, "over-limit", len(data)):
            data = data[:ITEM_SIZE_MAX]
        if BIG_NUMBER.search(data) or (verb in ("append", "prepend") and data.isdigit()):
            self.may_be_big.add(k)
        head = f"{verb} {k} {flags} {exptime(rng, now)} {len(data)}"
        tail = f"{noreply(rng)}\r\n".encode() + data + b"\r\n"
        if verb == "cas":
            known = min(len(self.cas_by_index[0]), len(self.cas_by_index[1]))
            if known and rng.random() < 0.8:
                return [head.encode() + b" ", Cas(rng.randrange(known)), tail], verb, False
            return [head.encode() + f" {rng.getrandbits(40) + (1 << 62)}".encode(), tail], verb, \
                False
        return [head.encode() + tail], verb, False

    def bytes_for(self, side, parts):
        return b"".join(str(self.cas_by_index[side][p.index]).encode() if isinstance(p, Cas)
                        else p for p in parts)

    def normalized(self, side, reply):
        """CAS numbers by order of appearance; values without spaces (incr-padding: memcached's
        in-place incr/decr pads with them, and no generated value has one)."""
        seen, order = self.cas[side], self.cas_by_index[side]
        out, at = [], 0
        for m in VALUE_LINE.finditer(reply):
            if m.start() < at:
                continue  # inside a value already copied
            size = int(m.group(3))
            data = reply[m.end():m.end() + size]
            cas = b""
            if m.group(4):
                n = int(m.group(4))
                if n not in seen:
                    seen[n] = len(order)
                    order.append(n)
                cas = b" #" + str(seen[n]).encode()
            unpadded = data.replace(b" ", b"")
            out.append(reply[at:m.start()])
            out.append(b"VALUE %s %s %d%s\r\n%s" % (m.group(1), m.group(2), len(unpadded), cas,
                                                      unpadded))
            at = m.end() + size
        out.append(reply[at:])
        return b"".join(out)

    def run(self, sides, rng, verbose=False):
        previous_read = set()
        for _ in range(self.batches):
            now = int(time.time())
            n = rng.choice([1, rng.randint(2, 10), rng.randint(2, 10), rng.randint(11, 100)])
            segments, current, read_keys, counted = [], [], set(), set()
            for _ in range(n):
                parts, verb, sync = self.command(rng, now, read_keys, counted)
                if sync and current:
                    segments.append((current, read_keys, counted))
                    current, read_keys, counted = [], set(), set()
                    # The incr's own key was not read in the new segment.
                    counted.add(parts[0].split(b" ")[1].decode())
                current.append(parts)
            segments.append((current, read_keys, counted))
            for seg, read, counts in segments:
                if counts & previous_read:
                    # memcached releases the items of a reply just after writing it: give it a
                    # moment before an incr/decr of one of them (incr-padding).
                    time.sleep(0.001)
                if not self.send_segment(sides, rng, seg, verbose):
                    return False
                previous_read = read
            self.batches_sent += 1
        return True

    def send_segment(self, sides, rng, seg, verbose):
        streams = [b"".join(self.bytes_for(s, parts) for parts in seg) + b"mn\r\n" for s in (0, 1)]
        cuts = sorted(rng.random() for _ in range(rng.choice([0, 1, 2, 5])))
        replies = []
        for s, side in enumerate(sides):
            b = streams[s]
            points = [0] + [int(f * len(b)) for f in cuts] + [len(b)]
            replies.append(side.exchange([b[points[i]:points[i + 1]]
                                          for i in range(len(points) - 1)]))
        self.commands_sent += len(seg)
        normal = [self.normalized(s, replies[s]) for s in (0, 1)]
        self.log.append((streams[0], normal[0], normal[1]))
        if verbose:
            print(shown(streams[0]).rstrip())
        if normal[0] != normal[1]:
            self.failed = len(self.log) - 1
            at = first_difference(normal[0], normal[1])
            if self.exempt(self.mode, "incr-past-2^63", line_at(normal[0], at, None),
                           line_at(normal[1], at, None), self.big_incremented):
                self.known = "incr-past-2^63"  # the sides now differ for good: next sequence
            return False
        return True

    def report(self):
        out = [f"sequence keys: {', '.join(abbreviated(k) for k in self.keys)}"]
        for i, (sent, direct, proxy) in enumerate(self.log):
            out.append(f"--- segment {i} sent (CAS numbers as the direct side got them):")
            out.append(shown(sent))
            if i == self.failed:
                at = first_difference(direct, proxy)
                out.append(f"--- replies differ at byte {at}: direct {line_at(direct, at)!r}, "
                           f"mcproxy {line_at(proxy, at)!r}; direct memcached answered:")
                out.append(shown(direct))
                out.append("--- mcproxy answered:")
                out.append(shown(proxy))
        return "\n".join(out)


def first_difference(a, b):
    return next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))


def line_at(data, at, limit=120):
    """The line holding byte `at`, abbreviated past `limit` characters (None: whole)."""
    start = data.rfind(b"\r\n", 0, at) + 2 if data.rfind(b"\r\n", 0, at) >= 0 else 0
    end = data.find(b"\r\n", at)
    line = data[start:end if end >= 0 else len(data)].decode(errors="replace")
    return line if limit is None else abbreviated(line, limit)


def abbreviated(text, limit=60):
    return text if len(text) <= limit else f"{text[:20]}...({len(text)} chars)"


def shown(data):
    """Bytes as readable lines, long runs (values, 250-byte keys) abbreviated."""
    lines = []
    for line in data.split(b"\r\n"):
        t = line.decode(errors="replace")
        lines.append("  " + " ".join(abbreviated(tok, 80) for tok in t.split(" ")))
    return "\n".join(lines)
