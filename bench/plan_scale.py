"""Planner at scale: 8 rails of /16 with 4,096 nodes (32,768 NICs), and a /8 rail with 10,000
exclusions. Prints figures; targets on a 2-core machine in brackets."""

import statistics
import time

from _django import peak_rss_mb, scratch_database, timed

NODES = 4096
RAILS = 8


def build_plan():
    from planner import services
    from planner.models import Node, NodeNIC

    plan = services.create_plan(
        name="Scale", slug="scale", supernet="10.50.0.0/13", rail_count=RAILS
    )
    rails = list(plan.rails.order_by("index"))
    nodes = Node.objects.bulk_create(Node(plan=plan, name=f"gpu-{i:05d}") for i in range(NODES))
    NodeNIC.objects.bulk_create(
        (NodeNIC(node=node, rail=rail, vf_count=1) for node in nodes for rail in rails),
        batch_size=4000,
    )
    return plan


def build_slash8_rail():
    from planner.models import Exclusion, Plan, Rail

    plan = Plan.objects.create(name="Wide", slug="wide", pod_cidr="172.16.0.0/16")
    rail = Rail.objects.create(plan=plan, index=0, subnet="10.0.0.0/8")
    Exclusion.objects.bulk_create(
        (
            Exclusion(
                rail=rail,
                cidr=f"10.{i // 256}.{i % 256}.0/28",
                first_ip=f"10.{i // 256}.{i % 256}.0",
                last_ip=f"10.{i // 256}.{i % 256}.15",
            )
            for i in range(10_000)
        ),
        batch_size=2000,
    )
    return rail


def p50(samples):
    return statistics.median(samples) * 1000


def main():
    with scratch_database() as connection:
        from django.contrib.auth.models import User
        from rest_framework.test import APIClient

        from planner import allocation
        from planner.models import NodeNIC

        results: dict[str, float] = {}
        plan = build_plan()
        with timed("allocate", results):
            given = allocation.allocate_plan(plan)
        assert sum(given.values()) == NODES * RAILS
        assert not NodeNIC.objects.filter(host_ip__isnull=True).exists()

        client = APIClient()
        client.force_authenticate(User.objects.create_superuser("bench", password="x"))
        utilisation = []
        for _ in range(10):
            start = time.perf_counter()
            response = client.get(f"/api/plans/{plan.id}/utilization/")
            utilisation.append(time.perf_counter() - start)
            assert response.status_code == 200

        rail = build_slash8_rail()
        available = []
        for _ in range(10):
            start = time.perf_counter()
            response = client.get(f"/api/rails/{rail.id}/available-ips/?limit=50")
            available.append(time.perf_counter() - start)
            assert response.json()["addresses"][0] == "10.0.0.16"

        print(f"database: {connection.vendor}")
        print(
            f"bulk host-IP allocation, {NODES * RAILS} NICs: {results['allocate']:.2f} s  [< 3 s]"
        )
        print(
            f"utilisation API, {RAILS} rails x {NODES} hosts: p50 {p50(utilisation):.1f} ms  [< 100 ms]"
        )
        print(
            f"available-ips?limit=50 on a /8 with 10,000 exclusions: p50 {p50(available):.1f} ms  [< 50 ms]"
        )
        print(f"peak memory: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
