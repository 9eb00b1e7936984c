"""The embedded broker never hands a worker a half-written message (which stopped the worker
with "Unrecoverable error: JSONDecodeError")."""

import multiprocessing
from queue import Empty

from kombu import Connection

COUNT = 3000


def race(tmp_path, transport: str) -> tuple[int, list[Exception]]:
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    (tmp_path / "control").mkdir()
    errors: list[Exception] = []
    # The web server in one process, the worker in another, as in production.
    producer = multiprocessing.get_context("fork").Process(
        target=produce, args=(transport, options)
    )
    with Connection("filesystem://", transport=transport, transport_options=options) as consumer:
        get = consumer.default_channel
        producer.start()
        received = 0
        while received < COUNT:
            try:
                get._get("routing")
                received += 1
            except Empty:
                if producer.exitcode is not None and not any(folder.iterdir()):
                    break
            except Exception as error:  # noqa: BLE001 - what a worker would die of
                errors.append(error)
                received += 1
        producer.join()
    return received, errors


def produce(transport: str, options: dict) -> None:
    with Connection("filesystem://", transport=transport, transport_options=options) as producer:
        put = producer.default_channel
        for n in range(COUNT):
            put._put("routing", {"n": n, "body": "x" * 20_000})


def test_a_worker_reading_while_messages_are_written_gets_each_whole(tmp_path):
    received, errors = race(tmp_path, "governance.broker:FilesystemTransport")
    assert errors == []
    assert received == COUNT
