"""A C program produces to and consumes from the real broker through librdkafka 2.0.2."""
import uuid

from conftest import BUILD, PYTHON, REPO, run


def test_c_roundtrip_through_the_real_broker(services, topic):
    proc = run([str(BUILD / "tests/kafka_roundtrip"), services.bootstrap, topic, "2000",
                "g." + uuid.uuid4().hex[:8]], timeout=120)
    assert "produced 2000, all acknowledged" in proc.stdout
    assert "consumed 2000 of 2000, 0 bad, from 4 partitions" in proc.stdout
    assert "kafka_roundtrip: ok" in proc.stdout


def test_design_topics_exist(services):
    out = run([PYTHON, str(REPO / "scripts/kafka_admin.py"), "describe", "--bootstrap",
               services.bootstrap]).stdout
    assert "aimem.calls.v1" in out
    assert "aimem.memories.v1" in out
