#!/usr/bin/env python3
"""Writes to stdout a one-layer image of a folder, as a `docker save` archive (what `docker load` and
`ctr images import` read): image-archive.py ROOTFS TAG ENTRYPOINT_JSON. No daemon and no registry needed."""
import hashlib, io, json, os, sys, tarfile

rootfs, tag, entrypoint = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w") as t:
    for name in sorted(os.listdir(rootfs)):
        t.add(os.path.join(rootfs, name), arcname=name)
data = layer.getvalue()
diff_id = hashlib.sha256(data).hexdigest()
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": entrypoint, "Env": ["PATH=/bin"]},
    "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
    "history": [{"created_by": "image-archive.py"}],
}).encode()
config_name = hashlib.sha256(config).hexdigest() + ".json"
out = tarfile.open(fileobj=sys.stdout.buffer, mode="w|")
def put(name, body):
    info = tarfile.TarInfo(name)
    info.size = len(body)
    out.addfile(info, io.BytesIO(body))
put(f"{diff_id}/layer.tar", data)
put(config_name, config)
put("manifest.json", json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [f"{diff_id}/layer.tar"]}]).encode())
out.close()
