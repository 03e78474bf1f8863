from collections import Counter

from backend.bench.workload import generate_workload


def test_benchmark_site_has_enough_aisles_and_uniquely_coded_locations():
    for multi_block in (False, True):
        workload = generate_workload(50, multi_block=multi_block)
        assert len(workload.layout.aisle_x) >= 20
        assert len(workload.locations) >= 4000
        codes = [loc.code for loc in workload.locations]
        assert len(set(codes)) == len(codes)
        assert workload.layout.is_single_block is not multi_block
        for loc in workload.locations:
            workload.layout.check_point(loc.point)
            assert loc.point.y not in workload.layout.cross_aisles_y


def test_orders_are_mostly_small_and_popularity_is_skewed():
    workload = generate_workload(3000, seed=4)
    sizes = Counter(len(o.lines) for o in workload.orders)
    assert set(sizes) <= set(range(1, 7))
    assert sizes[1] + sizes[2] + sizes[3] > 0.5 * len(workload.orders)
    picks = Counter(line.sku for o in workload.orders for line in o.lines)
    top = sum(count for _, count in picks.most_common(len(workload.products) // 5))
    assert top > 0.6 * sum(picks.values())
    assert len({o.cut_off for o in workload.orders}) >= 3
    assert all(o.cut_off.tzinfo is not None for o in workload.orders)
