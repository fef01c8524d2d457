"""A CloudFront distribution in front of moto's S3 bucket, served over HTTP on loopback, that lets a viewer
through only as CloudFront does for a trusted key group (Developer Guide, "Serve private content with signed
URLs and signed cookies"):

- a signed URL: `Expires`, `Signature` and `Key-Pair-Id` (canned policy) or `Policy` instead of `Expires`;
- signed cookies: `CloudFront-Policy`, `CloudFront-Signature` and `CloudFront-Key-Pair-Id` (custom policy);

the policy's `Resource` (with `*` and `?` wildcards) must match the object's URL at the distribution's domain,
`DateLessThan` must be in the future, and the signature must verify with the key group's public key
(RSA-SHA1, base64 with `+=/` written `-_~`). Anything else is a 403, as CloudFront answers. What passes is
read from the bucket and answered with its stored type, with the CORS headers a distribution's response
headers policy adds for the site's origin.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import time
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, quote

import boto3
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from werkzeug.wrappers import Request, Response


def _decode(text: str) -> bytes:
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"), validate=True)


class FakeCloudFront:
    def __init__(self, domain: str, key_id: str, public_key, s3_url: str, bucket: str, site_origin: str) -> None:
        self.domain, self.key_id, self.public_key = domain, key_id, public_key
        self.bucket, self.site_origin = bucket, site_origin
        self.s3 = boto3.client(
            "s3", region_name="us-east-1", endpoint_url=s3_url, aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )  # fmt: skip
        self.served: list[str] = []  # the keys let through
        self.refused: list[tuple[str, str]] = []  # (key, why)

    def __call__(self, environ, start_response):
        request = Request(environ)
        key = request.path.lstrip("/")
        url = f"https://{self.domain}/{quote(key)}"
        why = self.refusal(request, url)
        if why:
            self.refused.append((key, why))
            response = Response(f"<Error><Code>AccessDenied</Code><Message>{why}</Message></Error>", 403)
        else:
            try:
                found = self.s3.get_object(Bucket=self.bucket, Key=key)
            except self.s3.exceptions.NoSuchKey:
                response = Response("<Error><Code>NoSuchKey</Code></Error>", 404)
            else:
                self.served.append(key)
                response = Response(found["Body"].read(), content_type=found["ContentType"])
        if request.headers.get("Origin") == self.site_origin:
            response.headers["Access-Control-Allow-Origin"] = self.site_origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
        return response(environ, start_response)

    def refusal(self, request: Request, url: str) -> str | None:
        """Why CloudFront would refuse this viewer, or None."""
        query = {name: values[0] for name, values in parse_qs(request.query_string.decode()).items()}
        cookies = SimpleCookie(request.headers.get("Cookie", ""))
        try:
            if "Signature" in query:
                key_id, signature = query.get("Key-Pair-Id", ""), query["Signature"]
                if "Policy" in query:
                    policy = _decode(query["Policy"])
                else:  # a canned policy: CloudFront rebuilds it from the URL and Expires
                    expires = int(query.get("Expires", "0"))
                    canned = {"Resource": url, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}
                    policy = json.dumps({"Statement": [canned]}, separators=(",", ":")).encode()
            elif "CloudFront-Signature" in cookies and "CloudFront-Policy" in cookies:
                key_id = cookies["CloudFront-Key-Pair-Id"].value if "CloudFront-Key-Pair-Id" in cookies else ""
                signature = cookies["CloudFront-Signature"].value
                policy = _decode(cookies["CloudFront-Policy"].value)
            else:
                return "MissingKey: no signature in the URL or the cookies"
            if key_id != self.key_id:
                return "the key pair id isn't in the trusted key group"
            self.public_key.verify(_decode(signature), policy, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
            statement = json.loads(policy)["Statement"][0]
        except (binascii.Error, ValueError, KeyError, IndexError, InvalidSignature):
            return "the signature doesn't verify"
        resource = statement.get("Resource", "")
        if not fnmatch.fnmatchcase(url, resource.replace("[", "[[]")):
            return f"the policy's resource {resource} doesn't cover {url}"
        if statement.get("Condition", {}).get("DateLessThan", {}).get("AWS:EpochTime", 0) <= time.time():
            return "the policy has expired"
        return None
