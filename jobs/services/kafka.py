"""A single-node Apache Kafka broker in KRaft mode, run with `java` from the fetched jars."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from pathlib import Path

from jobs.errors import ServiceError
from jobs.services.base import Service
from jobs.settings import PROJECT_ROOT

KAFKA_JARS = PROJECT_ROOT / "flink-conf" / "jars" / "kafka"

_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
"""


class KafkaService(Service):
    """Kafka broker + controller on loopback; data under `<home>/kafka`, topics created on start."""

    name = "kafka"
    start_timeout_s = 90.0

    @property
    def address(self) -> str:
        return self.settings.kafka.bootstrap_servers

    def ports(self) -> list[tuple[str, int]]:
        k = self.settings.kafka
        return [(k.host, k.port), (k.host, k.controller_port)]

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    def _java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise ServiceError(
                "kafka: `java` is not on PATH; install Java 17 (apt-get install openjdk-17-jre-headless)"
            )
        return java

    def _classpath(self) -> str:
        if not any(KAFKA_JARS.glob("kafka_2.13-*.jar")):
            raise ServiceError(f"kafka: no broker jars in {KAFKA_JARS}; run `make setup` first")
        return f"{KAFKA_JARS}/*"

    def prepare(self) -> None:
        k = self.settings.kafka
        log_dir = self.data_dir / "data"
        self.config_file.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers={k.host}:{k.controller_port}",
                    f"listeners=PLAINTEXT://{k.host}:{k.port},CONTROLLER://{k.host}:{k.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{k.host}:{k.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={log_dir}",
                    f"num.partitions={k.partitions}",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=4",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=4",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    # Flink's exactly-once Kafka sink uses a 1 h transaction timeout by default;
                    # the broker's default ceiling is 15 min.
                    "transaction.max.timeout.ms=3600000",
                    "auto.create.topics.enable=true",
                    "log.retention.hours=168",
                    "",
                ]
            )
        )
        (self.data_dir / "log4j2.properties").write_text(_LOG4J2)
        if not (log_dir / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            result = subprocess.run(
                [
                    self._java(),
                    *self._jvm_flags(),
                    "-cp",
                    self._classpath(),
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "-t",
                    cluster_id,
                    "-c",
                    str(self.config_file),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                output = f"{result.stdout}{result.stderr}".strip()
                raise ServiceError(f"kafka: formatting storage failed: {output}")

    def _jvm_flags(self) -> list[str]:
        return [f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}"]

    def command(self) -> list[str]:
        heap = self.settings.kafka.heap
        return [
            self._java(),
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            *self._jvm_flags(),
            "-cp",
            self._classpath(),
            "kafka.Kafka",
            str(self.config_file),
        ]

    def check_health(self) -> None:
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.address, request_timeout_ms=3000)
        try:
            admin.list_topics()
        finally:
            admin.close()

    def after_start(self) -> None:
        from connectors.kafka_admin import ensure_topics
        from connectors.topics import DEFINITIONS, DEFINITIONS_CONFIG, all_topics

        prefix = self.settings.kafka.topic_prefix
        ensure_topics(self.settings, [prefix + t for t in all_topics()])
        ensure_topics(self.settings, [prefix + DEFINITIONS], partitions=1, configs=DEFINITIONS_CONFIG)
