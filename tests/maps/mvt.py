"""A small reader of Mapbox vector tiles (protobuf, spec 2.1) for the tests: layers,
features, their properties and point geometry in tile units."""

import struct


def varint(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, at
        shift += 7


def fields(data: bytes):
    """(field number, wire type, value) of one message: ints for varints, bytes else."""
    at = 0
    while at < len(data):
        key, at = varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = varint(data, at)
        elif wire == 1:
            value, at = data[at : at + 8], at + 8
        elif wire == 2:
            length, at = varint(data, at)
            value, at = data[at : at + length], at + length
        elif wire == 5:
            value, at = data[at : at + 4], at + 4
        else:
            raise ValueError(f"wire type {wire} is not used by vector tiles")
        yield number, wire, value


def packed(data: bytes) -> list[int]:
    out, at = [], 0
    while at < len(data):
        value, at = varint(data, at)
        out.append(value)
    return out


def zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def value(data: bytes):
    for number, _wire, raw in fields(data):
        if number == 1:
            return raw.decode()
        if number == 2:
            return struct.unpack("<f", raw)[0]
        if number == 3:
            return struct.unpack("<d", raw)[0]
        if number in (4, 5):
            return raw if raw < 2**63 else raw - 2**64
        if number == 6:
            return zigzag(raw)
        if number == 7:
            return bool(raw)
    return None


def points(geometry: list[int]) -> list[tuple[int, int]]:
    """The vertices of a geometry's commands (MoveTo and LineTo), in tile units."""
    out, x, y, at = [], 0, 0, 0
    while at < len(geometry):
        command, count = geometry[at] & 7, geometry[at] >> 3
        at += 1
        if command == 7:  # ClosePath
            continue
        for _ in range(count):
            x += zigzag(geometry[at])
            y += zigzag(geometry[at + 1])
            at += 2
            out.append((x, y))
    return out


GEOMETRY_TYPES = {1: "Point", 2: "LineString", 3: "Polygon"}


def decode(tile: bytes) -> dict[str, dict]:
    """{layer name: {"extent": int, "features": [{"type", "properties", "points"}]}}."""
    layers = {}
    for number, _wire, layer_bytes in fields(tile):
        if number != 3:
            continue
        name, keys, values, raw_features, extent = "", [], [], [], 4096
        for field, _w, raw in fields(layer_bytes):
            if field == 1:
                name = raw.decode()
            elif field == 2:
                raw_features.append(raw)
            elif field == 3:
                keys.append(raw.decode())
            elif field == 4:
                values.append(value(raw))
            elif field == 5:
                extent = raw
        features = []
        for raw in raw_features:
            feature = {"type": None, "properties": {}, "points": []}
            for field, _w, data in fields(raw):
                if field == 2:
                    tags = packed(data)
                    for k, v in zip(tags[::2], tags[1::2], strict=True):
                        feature["properties"][keys[k]] = values[v]
                elif field == 3:
                    feature["type"] = GEOMETRY_TYPES.get(data)
                elif field == 4:
                    feature["points"] = points(packed(data))
            features.append(feature)
        layers[name] = {"extent": extent, "features": features}
    return layers
