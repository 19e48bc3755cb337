//! The built-in set of transient errors (`retry = {"defaults": True}`):
//! what terraform, its backends and common providers report when a service
//! is briefly unwilling or unreachable. Documented in docs/retries.md; each
//! pattern is matched like a declared one, case-sensitively unless it says
//! `(?i)`.

/// The built-in patterns, in the order they are tried.
pub const PATTERNS: &[&str] = &[
    // AWS, Azure, Google: throttling by name.
    r"RequestLimitExceeded",
    r"Throttl(ing|ed)(Exception)?",
    r"TooManyRequests",
    r"(?i)rate (limit )?exceeded",
    r"SlowDown",
    // HTTP statuses of a busy or briefly broken service.
    r"(?i)\b(status( code)?|StatusCode|HTTP/[0-9.]+|response)\W{0,3}(429|502|503|504)\b",
    r"\b429 Too Many Requests\b",
    r"\b502 Bad Gateway\b",
    r"\b503 Service Unavailable\b",
    r"\b504 Gateway Time-?out\b",
    // The network under the provider or the backend.
    r"connection reset by peer",
    r"i/o timeout",
    r"TLS handshake timeout",
    r"(?i)unexpected EOF",
    // A provider plugin that did not answer in time.
    r"timeout while waiting for plugin to start",
    // A state lock that was released while terraform read who held it: the
    // holder is gone and the next attempt takes the lock.
    r"failed to (retrieve|read) lock info",
];

#[cfg(test)]
mod tests {
    use super::PATTERNS;

    #[test]
    fn every_pattern_compiles_and_matches_its_example() {
        let examples = [
            "Error: creating EC2 Instance: RequestLimitExceeded: Request limit exceeded.",
            "api error Throttling: Rate exceeded",
            "googleapi: Error 429: TooManyRequests",
            "Error: rate limit exceeded",
            "S3: SlowDown: Please reduce your request rate",
            "unexpected response status code 503",
            "HTTP/1.1 429 Too Many Requests",
            "502 Bad Gateway",
            "503 Service Unavailable",
            "504 Gateway Timeout",
            "read tcp 10.0.0.1:443: read: connection reset by peer",
            "dial tcp 10.0.0.1:443: i/o timeout",
            "net/http: TLS handshake timeout",
            "Post \"https://x\": unexpected EOF",
            "timeout while waiting for plugin to start",
            "failed to retrieve lock info for lock ID \"abc\"",
        ];
        for pattern in PATTERNS {
            let re = regex::Regex::new(pattern).expect(pattern);
            assert!(
                examples.iter().any(|e| re.is_match(e)),
                "{pattern} matches no example"
            );
        }
        let quiet = [
            "Error: Invalid reference",
            "Error: creating S3 Bucket: BucketAlreadyExists",
            "instance count 503 is too many",
        ];
        for line in quiet {
            assert!(
                !PATTERNS
                    .iter()
                    .any(|p| regex::Regex::new(p).unwrap().is_match(line)),
                "{line} looks transient"
            );
        }
    }
}
