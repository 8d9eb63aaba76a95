"""Services: a selector matching no Pods, no ready endpoints, a targetPort no container exposes; Ingress backends."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from .base import (
    Cluster,
    Finding,
    Obj,
    Severity,
    format_ports,
    format_selector,
    name_of,
    namespace_of,
    ref,
    selector_matches,
)
from .registry import analyzer

MAX_NAMED = 4


def known_services(cluster: Cluster, namespace: str) -> list[str]:
    """The names of the Services in `namespace` we know of: those read, and those the Applications list in their
    status (an Application names every Service it deploys, read or not)."""
    names = {name_of(o) for o in cluster.of_kind("Service") if namespace_of(o) == namespace and not o.get("_stub")}
    for app in cluster.of_kind("Application"):
        default = ((app.get("spec") or {}).get("destination") or {}).get("namespace") or ""
        for r in (app.get("status") or {}).get("resources") or []:
            if isinstance(r, dict) and r.get("kind") == "Service" and (r.get("namespace") or default) == namespace:
                names.add(str(r.get("name") or ""))
    return sorted(names - {""})


def closest_services(name: str, cluster: Cluster, namespace: str) -> list[str]:
    """The Services of `namespace` other than `name`, the most alike first (`api-svc` -> `api`, `redis-master` ->
    `shop-redis-master`), as `Service ns/name`: a name that does not exist is most often one that was renamed."""
    def likeness(other: str) -> float:
        return difflib.SequenceMatcher(None, name, other).ratio() + (0.5 if name in other or other in name else 0)
    others = sorted((n for n in known_services(cluster, namespace) if n != name), key=lambda n: (-likeness(n), n))
    return [f"Service {namespace}/{n}" for n in others[:MAX_NAMED]]


@analyzer("Service")
def service_selector(svc: Obj, cluster: Cluster) -> Iterator[Finding]:
    spec = svc.get("spec") or {}
    selector = spec.get("selector")
    if svc.get("_stub") or not selector or spec.get("type") == "ExternalName":
        return
    ns = namespace_of(svc)
    pods = cluster.pods_in(ns)
    endpoints = cluster.get("Endpoints", ns, name_of(svc))
    slices = [s for s in cluster.of_kind("EndpointSlice") if namespace_of(s) == ns
              and ((s.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name") == name_of(svc)]
    sel = format_selector(selector)
    if pods:
        matching = [p for p in pods if selector_matches(selector, (p.get("metadata") or {}).get("labels"))]
        if not matching:
            seen = sorted({",".join(f"{k}={v}" for k, v in sorted(((p.get("metadata") or {}).get("labels") or {})
                                                                     .items()) if k in selector)
                           for p in pods} - {""})
            yield Finding(Severity.CRITICAL, "Service selector matches no Pods",
                          f"Selector {sel} matches none of the {len(pods)} Pods in {ns}"
                          + (f"; their labels for those keys: {'; '.join(seen[:3])}" if seen else "")
                          + ". The Service has no endpoints.",
                          [f"selector: {sel}", *seen[:2]], ref(svc), "ServiceNoMatchingPods")
            return
        yield from _target_ports(svc, matching)
    if endpoints is not None and not endpoints.get("_stub"):
        subsets = endpoints.get("subsets") or []
        ready = sum(len(s.get("addresses") or []) for s in subsets)
        not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
        if ready == 0:
            detail = (f"{not_ready} endpoint(s) exist but none is ready: the Pods fail their readiness probe."
                      if not_ready else f"No Pod backs selector {sel}: requests to the Service fail.")
            yield Finding(Severity.CRITICAL, "Service has no ready endpoints", detail,
                          [f"selector: {sel}", f"ready endpoints: 0, not ready: {not_ready}"], ref(svc),
                          "ServiceNoEndpoints")
    elif slices:
        ready = sum(1 for s in slices for e in s.get("endpoints") or []
                    if (e.get("conditions") or {}).get("ready", True))
        if ready == 0:
            yield Finding(Severity.CRITICAL, "Service has no ready endpoints",
                          f"The EndpointSlices of the Service hold no ready endpoint (selector {sel}).",
                          [f"selector: {sel}", "ready endpoints: 0"], ref(svc), "ServiceNoEndpoints")


def _target_ports(svc: Obj, pods: list[Obj]) -> Iterator[Finding]:
    declared: dict[int, str] = {}
    for pod in pods:
        for c in (pod.get("spec") or {}).get("containers") or []:
            for p in c.get("ports") or []:
                if isinstance(p.get("containerPort"), int):
                    declared[p["containerPort"]] = str(p.get("name") or "")
    if not declared:
        return  # ports are optional in a Pod spec: nothing to compare against
    names = {n for n in declared.values() if n}
    listed = ", ".join(f"containerPort: {n}" + (f" ({name})" if name else "") for n, name in sorted(declared.items()))
    for port in (svc.get("spec") or {}).get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        if (isinstance(target, int) and target not in declared) or (
                isinstance(target, str) and not target.isdigit() and target not in names):
            yield Finding(Severity.ERROR, f"Service targetPort {target} not exposed by its Pods",
                          f"Port {port.get('port')} forwards to targetPort {target}, but the matching Pods declare "
                          f"{listed}.", [f"targetPort: {target}", listed], ref(svc), "ServiceTargetPortMismatch")


@analyzer("Ingress")
def ingress_backends(ing: Obj, cluster: Cluster) -> Iterator[Finding]:
    ns = namespace_of(ing)
    if ing.get("_stub") or not cluster.has_inventory("Service", ns):
        return
    spec = ing.get("spec") or {}
    backends = [spec.get("defaultBackend")] + [p.get("backend") for r in spec.get("rules") or []
                                               for p in (r.get("http") or {}).get("paths") or []]
    for b in backends:
        backend = (b or {}).get("service") or {}
        name = backend.get("name")
        svc = cluster.get("Service", ns, name) if name else None
        if name and svc is None:
            there = closest_services(str(name), cluster, ns)
            detail = f"The Ingress routes to Service \"{name}\", which is not in namespace {ns}"
            detail += f"; the Services there, the closest name first: {', '.join(there)}." if there else "."
            yield Finding(Severity.ERROR, f"Ingress backend Service \"{name}\" not found", detail,
                          [f"service: {name}", *(["Services there: " + ", ".join(there)] if there else [])],
                          ref(ing), "IngressBackendMissing")
        elif svc is not None and not svc.get("_stub"):
            yield from _backend_port(ing, svc, backend.get("port") or {})


def _backend_port(ing: Obj, svc: Obj, port: dict[str, Any]) -> Iterator[Finding]:
    """The Ingress names a Service port (number or name) the Service does not have: the controller answers 503."""
    ports = (svc.get("spec") or {}).get("ports") or []
    numbers = {p.get("port") for p in ports}
    names = {p.get("name") for p in ports if p.get("name")}
    wanted = port.get("number") if port.get("number") is not None else port.get("name")
    if wanted is None or wanted in numbers or wanted in names:
        return
    listed = format_ports(ports)
    key = "number" if port.get("number") is not None else "name"
    yield Finding(Severity.ERROR, f"Ingress backend port {wanted} not on Service {name_of(svc)}",
                  f"The Ingress sends traffic to port {wanted} of Service {name_of(svc)}, which has ports {listed}: "
                  "the controller has no endpoint for it (503 / default backend). Use the Service's port, not the "
                  "container's.", [f"port: {{{key}: {wanted}}}", f"{key}: {wanted}", f"Service ports: {listed}"],
                  ref(ing), "IngressBackendPortMismatch")
