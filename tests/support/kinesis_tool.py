"""Independent client for the tests and the demo (boto3, not edgeship's code).

  create-stream NAME [SHARDS]      create a Kinesis stream and wait until it is ACTIVE
  read-stream NAME                 print every record's data (all shards, oldest first), one per line
  create-firehose NAME BUCKET      create an S3 bucket and a DirectPut Firehose stream into it
  read-bucket BUCKET               print the concatenated contents of every object in the bucket

The endpoint comes from AWS_ENDPOINT_URL, like edgeship's.
"""
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


def create_firehose(name, bucket):
    client("s3").create_bucket(Bucket=bucket)
    client("firehose").create_delivery_stream(
        DeliveryStreamName=name, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose", "BucketARN": f"arn:aws:s3:::{bucket}",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}})


def read_bucket(bucket):
    s3 = client("s3")
    out = sys.stdout.buffer
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    for key in sorted(keys):
        out.write(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    out.flush()
    print(f"{len(keys)} objects", file=sys.stderr)


COMMANDS = {"create-stream": create_stream, "read-stream": read_stream,
            "create-firehose": create_firehose, "read-bucket": read_bucket}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
