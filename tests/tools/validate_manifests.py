"""Validates Kubernetes manifests against Istio's CRD schemas.

usage: validate_manifests.py CRD_DIR FILE...

Every document whose apiVersion/kind is an Istio CRD is checked against that CRD's
openAPIV3Schema (JSON Schema draft 7 semantics, plus `nullable`). CEL rules
(`x-kubernetes-validations`) cannot be evaluated here; the one Istio uses on WasmPlugin
(only one of selector/targetRef/targetRefs) is checked by hand. Documents of other kinds
must be in the known list (plain Kubernetes objects and kustomize files). Prints one
line per document and exits 1 on any problem.
"""
import json
import sys

import yaml
from jsonschema import Draft7Validator

KNOWN_PLAIN = {("apps/v1", "Deployment"), ("v1", "ConfigMap"), ("v1", "Secret"),
               ("v1", "Service"), ("kustomize.config.k8s.io/v1beta1", "Kustomization")}


def load_crds(crd_dir):
    import glob
    import os
    crds = {}
    for path in glob.glob(os.path.join(crd_dir, "*.yaml")):
        with open(path) as f:
            crd = yaml.safe_load(f)
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        for v in crd["spec"]["versions"]:
            if v.get("served"):
                crds[(f"{group}/{v['name']}", kind)] = v["schema"]["openAPIV3Schema"]
    return crds


def to_draft7(schema):
    """openAPIV3Schema → draft 7: `nullable: true` admits null."""
    if isinstance(schema, dict):
        out = {k: to_draft7(v) for k, v in schema.items() if not k.startswith("x-kubernetes")}
        if schema.get("nullable") and "type" in out:
            t = out["type"]
            out["type"] = [t, "null"] if isinstance(t, str) else list(t) + ["null"]
        return out
    if isinstance(schema, list):
        return [to_draft7(v) for v in schema]
    return schema


def main():
    crds = load_crds(sys.argv[1])
    bad = 0
    checked = 0
    for path in sys.argv[2:]:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        for i, doc in enumerate(docs):
            where = f"{path}#{i}"
            if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                continue
            key = (doc["apiVersion"], doc["kind"])
            if key in KNOWN_PLAIN:
                print(f"{where}: {key[1]} (plain Kubernetes, not an Istio CRD)")
                continue
            schema = crds.get(key)
            if schema is None:
                print(f"{where}: ERROR no served CRD version for {key}")
                bad += 1
                continue
            errors = sorted(Draft7Validator(to_draft7(schema)).iter_errors(doc), key=str)
            if not doc.get("metadata", {}).get("name"):
                errors.append("metadata.name is required")
            spec = doc.get("spec", {})
            if key[1] == "WasmPlugin":
                n = sum(1 for k in ("selector", "targetRef", "targetRefs") if k in spec)
                if n > 1:
                    errors.append("only one of targetRefs or selector can be set")
            if errors:
                bad += 1
                for e in errors:
                    msg = e.message if hasattr(e, "message") else str(e)
                    loc = "/".join(map(str, getattr(e, "absolute_path", [])))
                    print(f"{where}: ERROR {key[1]} {loc}: {msg}")
            else:
                checked += 1
                print(f"{where}: {key[1]} {doc['metadata']['name']} valid against {key[0]}")
    print(json.dumps({"valid": checked, "invalid": bad}))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
