"""Hand-written SQL on the session's own connection, for the few paths a handheld waits on.

A confirmed pick is ~20 statements. Through the ORM each costs ~0.3–0.7 ms
of Python on this class of machine, through a prebuilt Core statement
~0.05 ms (SQLite) and through the DBAPI cursor ~0.015 ms; `wes bench
realtime` needs the last. Everything else keeps using SQLModel.

    db = Raw.of(session)                   # the transaction's executor; flushes pending ORM changes first
    row = db.one(TASK_SQL, id=7)           # a tuple or None
    db.run("UPDATE task SET state = :state WHERE id = :id", state="done", id=7)

On PostgreSQL every answer waited for is a round trip to the server, and
every round trip gives up the GIL and must win it back from the event loop;
the commands' batch thread waits for each answer while the server works:
what a handheld waits for is the number of round trips more than the
statements. So nothing waits for an answer before it is needed:

    db.send_write(MOVE_SQL, …)             # a write whose outcome nobody reads
    found = db.send_read(TOTE_SQL, code=…) # a read whose rows are needed a little later
    db.prefetch(GTIN_SQL, gtin=…)          # a read some code further on will make: its db.one(…) is answered from this
    found.one()                            # now: wait for the answers to everything sent so far (one round trip)

Statements go to the server in order, in one open psycopg pipeline, and the
server works on them while Python goes on; asking for an answer (or any ORM
statement on the connection, or the COMMIT) waits for everything sent so far.
(The device commands' connection holds them until then, or until a command
ends (`Raw.send_held`): one write to the socket, not one per statement; see
backend.sql.held.) On SQLite (in-process, no round trips) they simply run at
once. Errors of a statement sent ahead surface where an answer is next
waited for, or sooner; the transaction is then lost (`Raw.failed`) and
rolled back as usual. `prefetch` is only for rows this transaction does not
change before reading them (a batch of commands says what an earlier
command changed: backend.commands.batch_reads). Inside a SAVEPOINT writes
wait with it (backend.sql.pipeline.PipelineDialect).

The modules: `text` (the statements' text: one spelling for both
databases, IN lists, JSON row sets, and `Write`, a statement that says
which ORM rows it changes), `values` (values to and from the column
types), `raw` (the executor), `pipeline` (the engines' wiring: what is out
goes before any other statement, BEGIN and SAVEPOINTs of the command
engine) and `held` (the one use of psycopg's private API).
"""

from backend.sql.raw import Pending, Raw, TransactionFailed, own_error
from backend.sql.text import Write, in_params, insert_json_rows

__all__ = ["Pending", "Raw", "TransactionFailed", "Write", "in_params", "insert_json_rows", "own_error"]
