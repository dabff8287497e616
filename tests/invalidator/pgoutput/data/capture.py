#!/usr/bin/python3
"""Captures real pgoutput (proto_version 1, messages true) XLogData payloads from PostgreSQL 15.

  scripts/pgcluster start /tmp/capture --replicas 0
  tests/invalidator/pgoutput/data/capture.py "host=127.0.0.1 port=PORT dbname=app user=postgres" \
      > tests/invalidator/pgoutput/data/pg15_capture.txt

Each output line is `<name> <hex of one XLogData payload>`; names say which statement produced it.
"""
import sys
import psycopg2
import psycopg2.extras

dsn = sys.argv[1]
sql = psycopg2.connect(dsn)
sql.autocommit = True
c = sql.cursor()
c.execute("DROP PUBLICATION IF EXISTS cap")
c.execute("SELECT pg_drop_replication_slot('cap') FROM pg_replication_slots WHERE slot_name='cap'")
c.execute("DROP TABLE IF EXISTS cap_users, cap_docs")
c.execute("CREATE TABLE cap_users (id bigint PRIMARY KEY, username text NOT NULL, bio text)")
c.execute("ALTER TABLE cap_users REPLICA IDENTITY FULL")
c.execute("CREATE TABLE cap_docs (id bigint PRIMARY KEY, title text, body text)")
c.execute("ALTER TABLE cap_docs ALTER COLUMN body SET STORAGE EXTERNAL")
c.execute("CREATE PUBLICATION cap FOR TABLE cap_users, cap_docs")
c.execute("SELECT pg_create_logical_replication_slot('cap', 'pgoutput')")

steps = [
    ("insert", ["INSERT INTO cap_users VALUES (1, 'alice', NULL)"]),
    ("update_full", ["UPDATE cap_users SET username = 'alicia' WHERE id = 1"]),
    ("insert_docs", ["INSERT INTO cap_docs VALUES (7, 'doc', repeat('x', 5000))"]),
    ("update_toast", ["UPDATE cap_docs SET title = 'doc2' WHERE id = 7"]),
    ("update_key", ["UPDATE cap_docs SET id = 8 WHERE id = 7"]),
    ("delete_key", ["DELETE FROM cap_docs WHERE id = 8"]),
    ("delete_full", ["DELETE FROM cap_users WHERE id = 1"]),
    ("message", ["SELECT pg_logical_emit_message(true, 'mcinval', 'feed:1 count:2')",
                 "INSERT INTO cap_users VALUES (2, 'bob', 'hi')"]),
    ("truncate", ["TRUNCATE cap_users, cap_docs"]),
]
for _, stmts in steps:
    c.execute("BEGIN")
    for s in stmts:
        c.execute(s)
    c.execute("COMMIT")

repl = psycopg2.connect(dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection)
rc = repl.cursor()
rc.start_replication(slot_name="cap", decode=False,
                     options={"proto_version": "1", "publication_names": "cap", "messages": "true"})
out = []
step = 0
counts = {}
while step < len(steps):
    msg = rc.read_message()
    if msg is None:
        import select
        select.select([rc], [], [], 5.0)
        continue
    kind = chr(msg.payload[0])
    name = steps[step][0]
    counts[(name, kind)] = counts.get((name, kind), 0) + 1
    out.append(f"{name}.{kind}{counts[(name, kind)]} {bytes(msg.payload).hex()}")
    if kind == "C":
        step += 1
    rc.send_feedback(flush_lsn=msg.data_start)
print("\n".join(out))
rc.close()
repl.close()
c.execute("SELECT pg_drop_replication_slot('cap')")
c.execute("DROP PUBLICATION cap")
c.execute("DROP TABLE cap_users, cap_docs")
