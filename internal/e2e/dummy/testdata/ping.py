"""Ping a dummy-service from librdkafka (confluent_kafka) and print its pong.

Reads the variables dummy-service reads: KAFKA_BOOTSTRAP_SERVERS, KAFKA_USER,
KAFKA_PASSWORD and KAFKA_CA_PATH (SASL_SSL with SCRAM-SHA-512), QUEUE_ID;
PING_TIMEOUT is the seconds to wait for the pong (default 20).

Sends {"queue_id", "command": "ping", "sent_at"} to queue-control, waits on
queue-events for the pong whose ping_ts is that sent_at and prints it as one
JSON line. Exit codes: 0 pong, 1 no pong or not delivered, 2 usage,
3 authentication failed.
"""

import json
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer

CONTROL_TOPIC = "queue-control"
EVENTS_TOPIC = "queue-events"


def fail(code, msg):
    print(f"ping.py: {msg}", file=sys.stderr)
    sys.exit(code)


def check_auth(errors):
    # Real Kafka answers a wrong password with SASL_AUTHENTICATION_FAILED
    # (_AUTHENTICATION here); kfake closes the connection, which librdkafka
    # reports as a transport error naming the SASL step.
    for err in errors:
        if err.code() == KafkaError._AUTHENTICATION or "SASL authentication error" in err.str():
            fail(3, f"authentication failed: {err.str()}")


def main():
    try:
        common = {
            "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            "security.protocol": "SASL_SSL",
            "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": os.environ["KAFKA_USER"],
            "sasl.password": os.environ["KAFKA_PASSWORD"],
            "ssl.ca.location": os.environ["KAFKA_CA_PATH"],
        }
        queue_id = os.environ["QUEUE_ID"]
    except KeyError as e:
        fail(2, f"{e.args[0]} is not set")
    deadline = time.monotonic() + float(os.environ.get("PING_TIMEOUT", "20"))

    errors = []  # from librdkafka's error callback, checked between polls
    delivery = []

    producer = Producer({**common, "error_cb": errors.append})
    sent_at = time.time()
    ping = {"queue_id": queue_id, "command": "ping", "sent_at": sent_at}
    producer.produce(CONTROL_TOPIC, json.dumps(ping).encode(),
                     on_delivery=lambda err, msg: delivery.append(err))
    while not delivery:
        check_auth(errors)
        if time.monotonic() > deadline:
            fail(1, f"ping not delivered in time; errors: {[e.str() for e in errors]}")
        producer.poll(0.1)
    if delivery[0] is not None:
        fail(1, f"ping not delivered: {delivery[0].str()}")

    # From the beginning, so the pong is found however late the
    # subscription lands; it is told apart by its ping_ts.
    consumer = Consumer({
        **common,
        "group.id": f"ping-py-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "error_cb": errors.append,
    })
    try:
        consumer.subscribe([EVENTS_TOPIC])
        while time.monotonic() < deadline:
            check_auth(errors)
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                fail(1, f"consuming {EVENTS_TOPIC}: {msg.error().str()}")
            try:
                event = json.loads(msg.value())
            except ValueError:
                continue  # not ours to judge; the service's tests check events
            if (event.get("event") == "pong" and event.get("queue_id") == queue_id
                    and event.get("ping_ts") == sent_at):
                print(json.dumps(event))
                return
        fail(1, f"no pong from {queue_id} for sent_at {sent_at}")
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
