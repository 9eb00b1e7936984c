"""The embedded broker: kombu's filesystem transport, with each message written whole
before a worker can see it.

kombu creates the message file under its final name and then writes into it; a worker
listing the folder in between moves the empty file away, fails to decode it and stops
("Unrecoverable error"). Here a message is written under a name no queue reads and renamed
into place, which is atomic on one file system: a worker sees a whole message or none.
"""

import os
import time
import uuid

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(time.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # Workers take only names ending ".<queue>.msg": this one is invisible to them.
        partial = os.path.join(self.data_folder_out, f"{name}.partial")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class FilesystemTransport(filesystem.Transport):
    Channel = Channel

    @property
    def default_connection_params(self):
        # A folder has no host: kombu's default, "localhost", only made every worker and
        # beat warn "No hostname was supplied" at start.
        return {"port": self.default_port, "hostname": None}
