"""Independent client for the tests and the demo (boto3, not edgeship's code).

  create-stream NAME [SHARDS]      create a Kinesis stream and wait until it is ACTIVE
  read-stream NAME                 print every record's data (all shards, oldest first), one per line
  read-deagg NAME                  like read-stream, de-aggregating KPL records with PyPI aws-kinesis-agg
  kcl-check NAME                   JSON summary: aggregates, user records, and user records whose hash
                                   key lies outside the hash range of the shard that stored them
  kcl-read NAME                    what a KCL 2.x/3.x consumer gets: user records of aggregates whose
                                   records all hash into the storing shard's range, plain records as is
  read-inflated NAME               like read-deagg, inflating each record first with Python's gzip or
                                   PyPI zstandard (by magic); prints a JSON summary on stderr
  read-keyed NAME                  one JSON object per line: shard, record key, user record key, line
  split-shard NAME SHARD           split a shard at the middle of its hash range
  create-firehose NAME BUCKET      create an S3 bucket and a DirectPut Firehose stream into it
  read-bucket BUCKET               print the concatenated contents of every object in the bucket
  read-bucket-inflated BUCKET      like read-bucket, each object inflated as one .gz or .zst file
  sigv4-sign                       sign the request described by the JSON on stdin with botocore's
                                   SigV4Auth at its x-amz-date; print the Authorization header

The endpoint comes from AWS_ENDPOINT_URL, like edgeship's.
"""
import base64
import hashlib
import json
import os
import sys
import time

import boto3


def client(service):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                        region_name=os.environ.get("AWS_REGION", "us-east-1"))


def create_stream(name, shards="1"):
    kinesis = client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=int(shards))
    for _ in range(200):
        status = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
        if status == "ACTIVE":
            return
        time.sleep(0.05)
    raise SystemExit(f"stream {name} did not become ACTIVE")


def read_stream(name):
    kinesis = client("kinesis")
    out = sys.stdout.buffer
    count = 0
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    for shard in shards:
        iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10000)
            for record in page["Records"]:
                data = record["Data"]
                out.write(data if data.endswith(b"\n") else data + b"\n")
                count += 1
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
    out.flush()
    print(f"{count} records", file=sys.stderr)


def shard_records(name):
    """Yields (shard, boto3 record) for every record, shard by shard, oldest first."""
    kinesis = client("kinesis")
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10000)
            for record in page["Records"]:
                yield shard, record
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")


def user_records(record):
    """De-aggregates one boto3 record with aws-kinesis-agg: [(data, pk, ehk, aggregated)]."""
    from aws_kinesis_agg.deaggregator import iter_deaggregate_records
    out = []
    for user in iter_deaggregate_records([record], data_format="Boto3"):
        k = user["kinesis"]
        aggregated = k.get("aggregated", False)
        data = base64.b64decode(k["data"]) if aggregated else k["data"]
        out.append((data, k["partitionKey"], k.get("explicitHashKey"), aggregated))
    return out


def read_deagg(name):
    out = sys.stdout.buffer
    count = 0
    for _, record in shard_records(name):
        for data, _, _, _ in user_records(record):
            out.write(data if data.endswith(b"\n") else data + b"\n")
            count += 1
    out.flush()
    print(f"{count} user records", file=sys.stderr)


GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def inflate(data):
    """(inflated bytes, codec) of a whole .gz / .zst stream (all members or frames)."""
    import gzip
    if data.startswith(GZIP_MAGIC):
        return gzip.decompress(data), "gzip"
    if data.startswith(ZSTD_MAGIC):
        import io
        import zstandard
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
        return reader.read(), "zstd"
    return data, "none"


def read_inflated(name):
    out = sys.stdout.buffer
    summary = {"records": 0, "gzip": 0, "zstd": 0, "none": 0, "bytes_sent": 0, "bytes_inflated": 0}
    for _, record in shard_records(name):
        data, codec = inflate(record["Data"])
        summary["records"] += 1
        summary[codec] += 1
        summary["bytes_sent"] += len(record["Data"])
        summary["bytes_inflated"] += len(data)
        for user, _, _, _ in user_records(dict(record, Data=data)):
            out.write(user if user.endswith(b"\n") else user + b"\n")
    out.flush()
    print(json.dumps(summary), file=sys.stderr)


def kcl_check(name):
    summary = {"kinesis_records": 0, "aggregates": 0, "user_records": 0, "outside_shard_range": 0}
    for shard, record in shard_records(name):
        low = int(shard["HashKeyRange"]["StartingHashKey"])
        high = int(shard["HashKeyRange"]["EndingHashKey"])
        summary["kinesis_records"] += 1
        users = user_records(record)
        if any(aggregated for *_, aggregated in users):
            summary["aggregates"] += 1
        for _, pk, ehk, aggregated in users:
            summary["user_records"] += 1
            key = int(ehk) if ehk else int(hashlib.md5(pk.encode()).hexdigest(), 16)
            if aggregated and not low <= key <= high:
                summary["outside_shard_range"] += 1
    print(json.dumps(summary))


def kcl_read(name):
    out = sys.stdout.buffer
    dropped = 0
    for shard, record in shard_records(name):
        low = int(shard["HashKeyRange"]["StartingHashKey"])
        high = int(shard["HashKeyRange"]["EndingHashKey"])
        users = user_records(record)
        def inside(pk, ehk):
            key = int(ehk) if ehk else int(hashlib.md5(pk.encode()).hexdigest(), 16)
            return low <= key <= high
        if any(aggregated and not inside(pk, ehk) for _, pk, ehk, aggregated in users):
            dropped += 1
            continue
        for data, *_ in users:
            out.write(data if data.endswith(b"\n") else data + b"\n")
    out.flush()
    print(json.dumps({"dropped_aggregates": dropped}), file=sys.stderr)


def read_keyed(name):
    """One JSON object per line shipped: its shard, the key of the Kinesis record that carried
    it, its own key (a user record's, de-aggregated with aws-kinesis-agg), whether it came in
    an aggregate, and the line. Packed lines (`lines` mode) share their record's key."""
    out = sys.stdout
    for shard, record in shard_records(name):
        for data, pk, _, aggregated in user_records(record):
            for line in data.decode().splitlines():
                out.write(json.dumps({"shard": shard["ShardId"], "record_key": record["PartitionKey"],
                                      "key": pk, "aggregated": aggregated, "line": line,
                                      "record_md5": hashlib.md5(data).hexdigest()}) + "\n")
    out.flush()


def split_shard(name, shard_id):
    kinesis = client("kinesis")
    shard = next(s for s in kinesis.list_shards(StreamName=name)["Shards"] if s["ShardId"] == shard_id)
    low = int(shard["HashKeyRange"]["StartingHashKey"])
    high = int(shard["HashKeyRange"]["EndingHashKey"])
    kinesis.split_shard(StreamName=name, ShardToSplit=shard_id, NewStartingHashKey=str((low + high) // 2 + 1))
    for _ in range(200):
        if kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.05)


def create_firehose(name, bucket):
    client("s3").create_bucket(Bucket=bucket)
    client("firehose").create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose", "BucketARN": f"arn:aws:s3:::{bucket}",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}})


def bucket_objects(bucket):
    """The body of every object in the bucket, by key."""
    s3 = client("s3")
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return [s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in sorted(keys)]


def read_bucket(bucket):
    out = sys.stdout.buffer
    bodies = bucket_objects(bucket)
    for body in bodies:
        out.write(body)
    out.flush()
    print(f"{len(bodies)} objects", file=sys.stderr)


def read_bucket_inflated(bucket):
    out = sys.stdout.buffer
    bodies = bucket_objects(bucket)
    codecs = set()
    for body in bodies:
        data, codec = inflate(body)
        codecs.add(codec)
        out.write(data)
    out.flush()
    print(json.dumps({"objects": len(bodies), "codecs": sorted(codecs)}), file=sys.stderr)


def sigv4_sign():
    import datetime
    from unittest import mock
    from botocore import auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    spec = json.load(sys.stdin)
    headers = {k: v for k, v in spec["headers"].items()
               if k not in ("authorization", "x-amz-date", "x-amz-security-token")}
    request = AWSRequest(method=spec["method"], url=spec["url"], headers=headers,
                         data=base64.b64decode(spec["body"]))
    when = datetime.datetime.strptime(spec["headers"]["x-amz-date"], "%Y%m%dT%H%M%SZ")
    credentials = Credentials(spec["access_key"], spec["secret_key"], spec.get("token"))
    with mock.patch.object(auth, "get_current_datetime", return_value=when):
        auth.SigV4Auth(credentials, spec["service"], spec["region"]).add_auth(request)
    print(request.headers["Authorization"])


COMMANDS = {"sigv4-sign": sigv4_sign, "create-stream": create_stream, "read-stream": read_stream,
            "read-deagg": read_deagg, "read-inflated": read_inflated, "kcl-check": kcl_check,
            "kcl-read": kcl_read, "read-keyed": read_keyed, "split-shard": split_shard,
            "create-firehose": create_firehose, "read-bucket": read_bucket,
            "read-bucket-inflated": read_bucket_inflated}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
