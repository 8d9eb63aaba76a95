"""Networking: names that do not resolve, NetworkPolicies that drop the traffic a Pod's logs say times out, and
Services of type LoadBalancer that never got an address.

Logs come in as `cluster.logs` (the distinct records of the container logs); the objects are the Application's.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import Any

from .base import (
    Cluster,
    Finding,
    Obj,
    Severity,
    clip,
    event_message,
    format_requirement,
    format_selector,
    event_time,
    kind_of,
    name_of,
    namespace_of,
    pod_spec,
    ref,
    selector_matches,
)
from .registry import analyzer, log_analyzer
from .services import closest_services, known_services

# Name resolution failures as Go, glibc/Python, Node, the JVM, curl and musl word them.
_DNS = re.compile(
    r"no such host|nxdomain|temporary failure in name resolution|name or service not known|"
    r"getaddrinfo (?:enotfound|eai_again)|unknownhostexception|could not resolve host|"
    r"nodename nor servname provided|server misbehaving|name does not resolve|failed to resolve|"
    r"name resolution failed|no address associated with hostname|dns lookup failed|"
    r"could not translate host name", re.IGNORECASE)
_DNS_HOST = re.compile(
    r"lookup ([\w.-]+)(?: on [\d.:]+)?|getaddrinfo \w+ ([\w.-]+)|UnknownHostException: ([\w.-]+)|"
    r"resolve host:? '?([\w.-]+)|host name \"?([\w.-]+)|Failed to resolve '([\w.-]+)'", re.IGNORECASE)
# Connections that time out or are refused, with the target when the runtime names it.
_CONN = re.compile(
    r"i/o timeout|connection timed out|connect timed out|etimedout|timed out connecting|connection refused|"
    r"econnrefused|connect: no route to host|context deadline exceeded.*dial|connecttimeouterror", re.IGNORECASE)
_TARGET = re.compile(r"(?:dial tcp |ECONN\w+ |ETIMEDOUT |Connect to |connect to |host |\(|\s)"
                     r"\[?([\w.-]+?)\]?:(\d{2,5})\b|on port (\d{2,5})|port=(\d{2,5})", re.IGNORECASE)
MAX_QUOTED = 2


def _pod_name(pod: str, cluster: Cluster) -> str:
    if pod:
        obj = cluster.get("Pod", "", pod)
        return ref(obj) if obj is not None else f"Pod {pod}"
    return ref(cluster.focus) if cluster.focus is not None else ""


@log_analyzer
def dns_failures(cluster: Cluster) -> Iterator[Finding]:
    by_resource: dict[str, list[str]] = {}
    hosts: dict[str, list[str]] = {}
    for pod, text in cluster.logs:
        if not _DNS.search(text):
            continue
        resource = _pod_name(pod, cluster)
        line = clip(next((ln for ln in text.splitlines() if _DNS.search(ln)), text))
        if line not in by_resource.setdefault(resource, []):
            by_resource[resource].append(line)
        for m in _DNS_HOST.finditer(text):
            host = next(g for g in m.groups() if g)
            if host not in hosts.setdefault(resource, []) and not host.replace(".", "").isdigit():
                hosts[resource].append(host)
    for resource, lines in by_resource.items():
        names = hosts.get(resource, [])
        there = _services_instead(names[0], resource, cluster) if names else []
        detail = ("The container cannot resolve " + (", ".join(f'"{h}"' for h in names[:3]) if names else "a name")
                  + (f", and no Service {there[0]} exists; the Services there, the closest name first: "
                     + ", ".join(there[1:]) if there else "")
                  + ": the name is wrong (a Service in another namespace needs <service>.<namespace>), the Service "
                  "does not exist, or DNS is unreachable (CoreDNS down, a NetworkPolicy blocking port 53). The Pod "
                  "can look Running and Ready meanwhile.")
        yield Finding(Severity.ERROR, "DNS name resolution failing" + (f" for {names[0]}" if names else ""),
                      detail, lines[:MAX_QUOTED] + names[:2], resource, "DNSResolutionFailed")


def _namespace_of(resource: str, cluster: Cluster) -> str:
    """The namespace of the Pod a log finding is about (`Pod ns/name` or `Pod name/container`), else the
    Application's destination."""
    name = resource.partition(" ")[2]
    for candidate in (name.rpartition("/")[2], name.partition("/")[0]):
        if (pod := cluster.get("Pod", "", candidate)) is not None and namespace_of(pod):
            return namespace_of(pod)
    return next((str(((a.get("spec") or {}).get("destination") or {}).get("namespace") or "")
                 for a in cluster.of_kind("Application")), "")


def _services_instead(host: str, resource: str, cluster: Cluster) -> list[str]:
    """For an in-cluster name that resolves to no Service (`name`, `name.ns`, `name.ns.svc...`): `ns/name`, then the
    Services that namespace does have, the closest name first; [] for other names or when the Service exists."""
    labels = host.lower().rstrip(".").split(".")
    own = _namespace_of(resource, cluster)
    if len(labels) == 1:
        ns = own
    elif labels[2:3] == ["svc"] or len(labels) == 2:
        ns = labels[1]
    else:
        return []
    known = known_services(cluster, ns) if ns else []
    if not known or labels[0] in known:
        return []
    return [f"{ns}/{labels[0]}", *closest_services(labels[0], cluster, ns)]


# -- NetworkPolicies ------------------------------------------------------------------------------------------------


def _labels_of(obj: Obj) -> Mapping[str, Any]:
    if kind_of(obj) == "Pod":
        return (obj.get("metadata") or {}).get("labels") or {}
    spec = obj.get("spec") or {}
    template = (spec.get("template") or {}).get("metadata") or {}
    return template.get("labels") or ((spec.get("selector") or {}).get("matchLabels")) or {}


def _subjects(pod: str, cluster: Cluster) -> list[Obj]:
    """The objects whose Pods wrote this log line: the named Pod, else the resource in focus, else every workload."""
    if pod and (obj := cluster.get("Pod", "", pod)) is not None and not obj.get("_stub"):
        return [obj]
    focus = cluster.focus
    if focus is not None and (kind_of(focus) == "Pod" or pod_spec(focus)):
        return [focus]
    return [o for o in cluster.objects if not o.get("_stub") and (kind_of(o) == "Pod" or pod_spec(o))]


def _policies_for(obj: Obj, cluster: Cluster, direction: str) -> list[Obj]:
    ns, labels = namespace_of(obj), _labels_of(obj)
    out = []
    for pol in cluster.of_kind("NetworkPolicy"):
        spec = pol.get("spec") or {}
        if namespace_of(pol) not in ("", ns) or pol.get("_stub"):
            continue
        types = spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))
        selector = spec.get("podSelector") or {}
        if direction in types and (not selector or not (selector.get("matchLabels") or selector.get(
                "matchExpressions")) or selector_matches(selector, labels)):
            out.append(pol)
    return out


def _port_allowed(rule: Mapping[str, Any], port: int | None, names: set[str]) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    if port is None:
        return False
    for p in ports:
        value, end = p.get("port"), p.get("endPort")
        if value is None or value == port or (isinstance(value, str) and value in names):
            return True
        if isinstance(value, int) and isinstance(end, int) and value <= port <= end:
            return True
    return False


def _peer_allowed(rule: Mapping[str, Any], key: str, ip: str | None, labels: Mapping[str, Any] | None) -> bool:
    peers = rule.get(key)
    if not peers:
        return True
    for peer in peers:
        block = peer.get("ipBlock")
        if block:
            if ip is None:
                continue
            try:
                addr = ipaddress.ip_address(ip)
                if addr in ipaddress.ip_network(block.get("cidr", ""), strict=False) and not any(
                        addr in ipaddress.ip_network(e, strict=False) for e in block.get("except") or []):
                    return True
            except ValueError:
                continue
        elif "podSelector" in peer or "namespaceSelector" in peer:
            if labels is None:
                return True  # a peer we cannot check: assume it may be the target
            selector = peer.get("podSelector") or {}
            if not (selector.get("matchLabels") or selector.get("matchExpressions")) or selector_matches(
                    selector, labels):
                return True
    return False


def _describe(pol: Obj, direction: str) -> str:
    spec = pol.get("spec") or {}
    rules = spec.get(direction.lower()) or []
    types = ",".join(spec.get("policyTypes") or [direction])
    if not rules:
        return f"NetworkPolicy {name_of(pol)}: policyTypes: [{types}], no {direction.lower()} rules (denies all)"
    allowed = []
    for r in rules:
        ports = ",".join(f"{p.get('protocol', 'TCP')}/{p.get('port', '*')}" for p in r.get("ports") or [])
        ports = ports or "all ports"
        peers = _peers(r.get("from" if direction == "Ingress" else "to") or [])
        allowed.append(ports + (f" {'from' if direction == 'Ingress' else 'to'} {peers}" if peers else ""))
    return f"NetworkPolicy {name_of(pol)}: policyTypes: [{types}], {direction.lower()} allows only {'; '.join(allowed)}"


def _peers(peers: list[Mapping[str, Any]]) -> str:
    """The peers a rule admits, as selectors (`app=gateway`, `namespace team=edge`, `10.0.0.0/8`): who may talk is
    what the fix changes (label the client, or add it to the rule)."""
    out = []
    for peer in peers[:3]:
        if block := peer.get("ipBlock"):
            out.append(str(block.get("cidr", "")) + (f" except {','.join(block['except'])}" if block.get("except")
                                                     else ""))
            continue
        parts = []
        if "namespaceSelector" in peer:
            parts.append("namespace " + _selector_text(peer.get("namespaceSelector")))
        if "podSelector" in peer:
            parts.append("pods " + _selector_text(peer.get("podSelector")))
        if parts:
            out.append(" ".join(parts))
    return " or ".join(out)


def _selector_text(selector: Mapping[str, Any] | None) -> str:
    """A LabelSelector in one line: its labels and expressions (`key In a,b`); an empty one selects all."""
    selector = selector or {}
    parts = [format_selector(selector)] if format_selector(selector) else []
    parts += [format_requirement(e) for e in selector.get("matchExpressions") or [] if isinstance(e, Mapping)]
    return ",".join(parts) or "any"


def connection_targets(text: str) -> list[str]:
    """The hosts (names or IPs) a log's failed connections name: where to look for the policy that drops them."""
    out: list[str] = []
    for line in text.splitlines():
        if _CONN.search(line) and (host := _target(line)[0]) and host not in out:
            out.append(host)
    return out


def _target(text: str) -> tuple[str | None, int | None]:
    for m in _TARGET.finditer(text):
        if m.group(2):
            return m.group(1), int(m.group(2))
        if m.group(3) or m.group(4):
            return None, int(m.group(3) or m.group(4))
    return None, None


def _resolve(host: str | None, cluster: Cluster) -> tuple[str | None, Obj | None]:
    """The target's IP (when it is one) and the Service or Pod it is (by cluster IP, Pod IP or Service name)."""
    if not host:
        return None, None
    try:
        ipaddress.ip_address(host)
        ip = host
    except ValueError:
        ip = None
    for svc in cluster.of_kind("Service"):
        spec = svc.get("spec") or {}
        if (ip and spec.get("clusterIP") == ip) or name_of(svc) == host.split(".")[0]:
            return ip, svc
    for pod in cluster.of_kind("Pod"):
        if ip and (pod.get("status") or {}).get("podIP") == ip:
            return ip, pod
    return ip, None


@log_analyzer
def network_policies(cluster: Cluster) -> Iterator[Finding]:
    if not cluster.of_kind("NetworkPolicy"):
        return
    reported: set[str] = set()
    for pod, text in cluster.logs:
        dns = bool(_DNS.search(text))
        if not (_CONN.search(text) or dns):
            continue
        host, port = (None, 53) if dns and not _CONN.search(text) else _target(text)
        ip, target = _resolve(host, cluster)
        target_labels = _labels_of(target) if target is not None and kind_of(target) == "Pod" else (
            (target.get("spec") or {}).get("selector") if target is not None else None)
        line = clip(next((ln for ln in text.splitlines() if _CONN.search(ln) or _DNS.search(ln)), text))
        for subject in _subjects(pod, cluster):
            egress = _policies_for(subject, cluster, "Egress")
            if egress and not any(_port_allowed(r, port, set()) and _peer_allowed(r, "to", ip, target_labels)
                                  for pol in egress for r in (pol.get("spec") or {}).get("egress") or []):
                key = f"egress {ref(subject)} {port}"
                if key not in reported:
                    reported.add(key)
                    yield _blocking(subject, egress, "Egress", port, host, line, dns)
            if target is not None and kind_of(target) == "Service":
                backends = [p for p in cluster.pods_in(namespace_of(target))
                            if selector_matches((target.get("spec") or {}).get("selector"), _labels_of(p))]
                target_port = next((p.get("targetPort", p.get("port")) for p in (target.get("spec") or {}).get(
                    "ports") or [] if p.get("port") == port), port)
                for backend in backends[:1]:
                    ingress = _policies_for(backend, cluster, "Ingress")
                    names = {str(target_port)} if isinstance(target_port, str) else set()
                    tport = target_port if isinstance(target_port, int) else None
                    if ingress and not any(_port_allowed(r, tport, names)
                                           and _peer_allowed(r, "from", None, _labels_of(subject))
                                           for pol in ingress for r in (pol.get("spec") or {}).get("ingress") or []):
                        key = f"ingress {ref(backend)} {target_port}"
                        if key not in reported:
                            reported.add(key)
                            yield _blocking(backend, ingress, "Ingress", tport or port, name_of(target), line,
                                            False, ref(subject))


def _blocking(subject: Obj, policies: list[Obj], direction: str, port: int | None, host: str | None, line: str,
              dns: bool, peer: str = "") -> Finding:
    what = "DNS (port 53)" if dns else f"{host or 'the target'}" + (f":{port}" if port else "")
    described = [_describe(p, direction) for p in policies[:2]]
    if direction == "Egress":
        detail = (f"The logs show connections to {what} failing, and {len(policies)} NetworkPolicy(ies) select "
                  f"{ref(subject)} for Egress without a rule allowing it: " + "; ".join(described) + ". Add an "
                  "egress rule for that port (and UDP/TCP 53 to kube-dns if DNS is needed).")
    else:
        detail = (f"{peer or 'A client'} cannot reach {what}: the NetworkPolicy(ies) selecting {ref(subject)} allow "
                  "no ingress from it on that port: " + "; ".join(described) + ".")
    return Finding(Severity.CRITICAL, f"NetworkPolicy blocks {direction.lower()} to {what}", detail,
                   [line, *described, f"policyTypes: [{direction}]"], ref(subject), "NetworkPolicyBlocking")


# -- LoadBalancer Services -------------------------------------------------------------------------------------------


@analyzer("Service")
def load_balancer(svc: Obj, cluster: Cluster) -> Iterator[Finding]:
    spec = svc.get("spec") or {}
    if svc.get("_stub") or spec.get("type") != "LoadBalancer":
        return
    if ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        return
    events = cluster.events_for(svc)
    failed = [e for e in events if (e.get("type") or "") == "Warning"]
    created = str((svc.get("metadata") or {}).get("creationTimestamp") or "")
    latest = event_time(events[-1]) if events else ""
    detail = "The Service is of type LoadBalancer and has no external address (EXTERNAL-IP <pending>)"
    detail += f" since {created}" if created else ""
    detail += f" (last event {latest})" if latest else ""
    if failed:
        detail += f": {clip(event_message(failed[-1]))}"
    elif not events:
        detail += ": no controller has even tried (no events): the cluster has no load-balancer provider " \
                  "(bare metal or kind needs MetalLB or similar), or spec.loadBalancerClass names one not installed"
    detail += ". Argo CD keeps the Service, and the Application, Progressing until it gets one."
    evidence = ["type: LoadBalancer", "EXTERNAL-IP <pending>"]
    evidence += [clip(event_message(e)) for e in (failed or events)[-2:]]
    if spec.get("loadBalancerClass"):
        evidence.append(f"loadBalancerClass: {spec['loadBalancerClass']}")
    yield Finding(Severity.ERROR, "LoadBalancer Service has no external address", detail, evidence, ref(svc),
                  "LoadBalancerPending")
