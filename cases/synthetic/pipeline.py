"""A second process that simulates batches and encodes them as binary COPY streams, while
the first sends the previous batch to PostgreSQL (``generate_cases`` with a rebuild).

The child is forked once everything it reads is in memory (the world, the plan, the
simulator and its random state, the ids), so it makes exactly the cases the first process
would have made, in the same order; it never touches the database. Streams go back through
a pipe as bytes; what the first process does with them costs it little, so the simulation,
the encoding and the server's work on the last batch run side by side on two CPUs.
"""

import multiprocessing
import time
import traceback
from collections.abc import Iterator

from .life import Simulator, simulate


def bounds(total: int, batch: int) -> Iterator[tuple[int, int]]:
    """Batches of ``batch`` cases, the first one an eighth of that: the writer has nothing
    to do until the first batch arrives, and the smaller it is, the sooner it starts."""
    begin, size = 0, max(1, batch // 8)
    while begin < total:
        yield begin, min(total, begin + size)
        begin, size = begin + size, batch


def produce(sender, simulator: Simulator, writer, plan, case_ids, batch, counters) -> None:
    """In the child: for each batch, a header (size, issued counters, tables and row
    counts, seconds) and then one stream per table; ("error", traceback) on failure."""
    try:
        for begin, end in bounds(len(plan), batch):
            started = time.perf_counter()
            records = simulate(simulator, plan[begin:end], case_ids[begin:end])
            issued = {k: v for k, v in simulator.counters.items() if counters.get(k, 0) != v}
            counters.update(issued)
            streams = list(writer.streams(records))
            seconds = time.perf_counter() - started
            tables = [(table, count) for table, _stream, count in streams]
            sender.send(("batch", len(records), issued, tables, seconds))
            for _table, stream, _count in streams:
                sender.send_bytes(stream)
        sender.send(("done",))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        sender.send(("error", traceback.format_exc()))
    finally:
        sender.close()


class Produced(Iterator):
    """The batches as the child sends them: (size, issued counters, streams)."""

    def __init__(self, process, reader):
        self.process, self.reader = process, reader
        self.simulated = 0.0
        self.finished = False

    def __next__(self):
        message = self.reader.recv()
        if message[0] == "done":
            self.finished = True
            raise StopIteration
        if message[0] == "error":
            raise RuntimeError(f"the simulating process failed:\n{message[1]}")
        _, size, issued, tables, seconds = message
        self.simulated += seconds
        streams = [(table, self.reader.recv_bytes(), count) for table, count in tables]
        return size, issued, streams


def start(simulator: Simulator, writer, plan, case_ids, batch, counters) -> Produced:
    context = multiprocessing.get_context("fork")
    reader, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=produce,
        args=(sender, simulator, writer, plan, case_ids, batch, counters),
        name="generate_cases simulation",
        daemon=True,
    )
    process.start()
    sender.close()  # the child's end: the parent sees EOF if the child dies
    return Produced(process, reader)


def stop(produced: Produced) -> float:
    """End the child (at once if the writes failed); the seconds it spent simulating."""
    if not produced.finished:
        produced.process.kill()
    produced.process.join()
    produced.reader.close()
    return produced.simulated
