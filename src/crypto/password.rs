//! Password hashing: argon2id for everything we write; bcrypt (the original's format) still
//! verifies so imported users keep their passwords.
//!
//! Hashing is memory-hard on purpose (19 MiB per hash), so it runs on a fixed pool of workers
//! ([`PasswordHasher`]), one per core, behind a bounded queue: a burst of sign-ins waits in the
//! queue or is refused with [`Busy`], and never holds more than `workers × 19 MiB`.

use argon2::password_hash::{Output, PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::OnceLock;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// OWASP's recommended argon2id profile: 19 MiB (in 1 KiB blocks), 2 passes, 1 lane.
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("static argon2 params are valid")
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// Hashes into `memory` (the argon2 working set, reused between hashes) and returns the PHC string.
fn hash_with(password: &str, memory: &mut [Block]) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .expect("a generated salt decodes");
    let mut out = [0u8; 32];
    argon2()
        .hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, memory)
        .expect("argon2 hashing with valid params cannot fail");
    PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params()).try_into().expect("static params encode"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output length")),
    }
    .to_string()
}

/// Verifies `password` against a stored PHC string or bcrypt hash. Hashes with our parameters
/// reuse `memory`; others (imported with other costs) allocate their own.
fn verify_with(password: &str, stored: &str, memory: &mut [Block]) -> bool {
    // Hashes stored before costs were bounded at import are refused, not computed.
    if !is_supported_hash(stored) {
        return false;
    }
    if stored.starts_with("$2") {
        return bcrypt::verify(password, stored).unwrap_or(false);
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(p), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    if p.block_count() != memory.len() {
        return Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
    }
    let version = parsed
        .version
        .map(Version::try_from)
        .unwrap_or(Ok(Version::V0x13));
    let Ok(version) = version else { return false };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, p).hash_password_into_with_memory(
        password.as_bytes(),
        salt_bytes,
        &mut out,
        memory,
    );
    computed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

fn working_set() -> Vec<Block> {
    vec![Block::default(); params().block_count()]
}

/// Hashes on the calling thread (CLI and tests; servers use [`PasswordHasher`]).
pub fn hash(password: &str) -> String {
    hash_with(password, &mut working_set())
}

/// Verifies on the calling thread (tests and benchmarks; servers use [`PasswordHasher`]).
pub fn verify(password: &str, stored: &str) -> bool {
    verify_with(password, stored, &mut working_set())
}

/// The most an imported hash may cost to verify: argon2 memory in KiB (64 MiB, the common
/// library default; ours is 19 MiB), passes and lanes; bcrypt's cost (2^14 rounds, about a
/// second). Anything dearer would let one stored hash stall or exhaust the hashing pool.
const MAX_ARGON2_M_KIB: u32 = 64 * 1024;
const MAX_ARGON2_T: u32 = 10;
const MAX_ARGON2_P: u32 = 4;
const MAX_BCRYPT_COST: u32 = 14;

/// Whether an imported hash (`password_hash` on user create/update) is in a format we verify,
/// with costs within the limits above.
pub fn is_supported_hash(stored: &str) -> bool {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        let cost = stored.get(4..6).and_then(|c| c.parse::<u32>().ok());
        return stored.len() == 60 && cost.is_some_and(|c| (4..=MAX_BCRYPT_COST).contains(&c));
    }
    stored.starts_with("$argon2")
        && PasswordHash::new(stored)
            .ok()
            .and_then(|h| Params::try_from(&h).ok())
            .is_some_and(|p| {
                p.m_cost() <= MAX_ARGON2_M_KIB
                    && p.t_cost() <= MAX_ARGON2_T
                    && p.p_cost() <= MAX_ARGON2_P
            })
}

/// A fixed hash to verify against when there is no user, so unknown emails cost the same time
/// as wrong passwords.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("portcullis-timing-equaliser"))
}

/// The hashing queue is full: the caller should answer 503 with `Retry-After`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("password hashing is at capacity")]
pub struct Busy;

enum Work {
    Hash(String),
    /// `None` verifies against the dummy hash and answers false.
    Verify(String, Option<String>),
}

struct Job {
    work: Work,
    reply: tokio::sync::oneshot::Sender<Answer>,
}

enum Answer {
    Hash(String),
    Verified(bool),
}

/// A worker drops its 19 MiB working set after this long without work, so memory goes back to
/// the operating system after a burst.
const IDLE_RELEASE: Duration = Duration::from_secs(1);

/// The password-hashing pool: `workers` threads, each reusing one argon2 working set while busy,
/// fed by a queue of at most `queue` waiting jobs. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: crossbeam_channel::Sender<Job>,
}

impl PasswordHasher {
    /// Starts `workers` threads (0 → one per core) behind a queue of `queue` jobs.
    pub fn start(workers: usize, queue: usize) -> PasswordHasher {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            workers
        };
        let (jobs, incoming) = crossbeam_channel::bounded::<Job>(queue);
        for i in 0..workers {
            let incoming = incoming.clone();
            std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || work(incoming))
                .expect("spawning a password worker");
        }
        PasswordHasher { jobs }
    }

    async fn run(&self, work: Work) -> Result<Answer, Busy> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs.try_send(Job { work, reply }).map_err(|_| Busy)?;
        answer.await.map_err(|_| Busy)
    }

    /// Whether a new job would be refused now; lets a request that will need a hash be refused
    /// before it does any other work.
    pub fn is_full(&self) -> bool {
        self.jobs.is_full()
    }

    /// The PHC string of a fresh argon2id hash of `password`.
    /// Errors: [`Busy`] when the queue is full.
    pub async fn hash(&self, password: String) -> Result<String, Busy> {
        match self.run(Work::Hash(password)).await? {
            Answer::Hash(h) => Ok(h),
            Answer::Verified(_) => unreachable!("a hash job answers with a hash"),
        }
    }

    /// Whether `password` matches `stored`; with no stored hash, spends the same time and
    /// answers false. Errors: [`Busy`] when the queue is full.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Busy> {
        match self.run(Work::Verify(password, stored)).await? {
            Answer::Verified(ok) => Ok(ok),
            Answer::Hash(_) => unreachable!("a verify job answers with a verdict"),
        }
    }
}

fn work(incoming: crossbeam_channel::Receiver<Job>) {
    let mut memory: Option<Vec<Block>> = None;
    loop {
        let job = match incoming.recv_timeout(IDLE_RELEASE) {
            Ok(job) => job,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if memory.take().is_some() {
                    release_free_memory();
                }
                match incoming.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        };
        if job.reply.is_closed() {
            continue; // the client went away while waiting
        }
        let memory = memory.get_or_insert_with(working_set);
        let answer = match job.work {
            Work::Hash(password) => Answer::Hash(hash_with(&password, memory)),
            Work::Verify(password, stored) => {
                let ok = verify_with(&password, stored.as_deref().unwrap_or(dummy_hash()), memory);
                Answer::Verified(ok && stored.is_some())
            }
        };
        let _ = job.reply.send(answer);
    }
}

/// Makes freed large blocks go straight back to the OS: glibc otherwise raises its mmap
/// threshold after the first 19 MiB working set is freed and keeps later ones in its heaps.
/// Called once at start by the server.
pub fn return_large_allocations_to_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning (it takes the allocator lock itself).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// After a burst, hands the free pages of every allocator arena back to the OS (a burst of
/// connections leaves glibc's per-thread arenas full of free but resident chunks).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory; it takes each arena's lock itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHasher as _;

    #[test]
    fn argon2_and_bcrypt_verify() {
        let h = super::hash("correct horse");
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong", &h));
        let b = bcrypt::hash("hunter22", 4).unwrap();
        assert!(super::is_supported_hash(&b));
        assert!(super::verify("hunter22", &b));
        assert!(!super::verify("hunter23", &b));
        assert!(!super::is_supported_hash("plain"));
    }

    #[test]
    fn hashes_interoperate_with_the_argon2_crate() {
        // Ours verify with the crate's own verifier, and the crate's (other costs too) with ours.
        let ours = super::hash("pw");
        let parsed = argon2::PasswordHash::new(&ours).unwrap();
        assert!(
            argon2::PasswordVerifier::verify_password(&super::argon2(), b"pw", &parsed).is_ok()
        );
        let salt = argon2::password_hash::SaltString::generate(&mut rand::rngs::OsRng);
        let cheap = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(1024, 1, 1, None).unwrap(),
        );
        let theirs = cheap.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(super::verify("pw", &theirs));
        assert!(!super::verify("px", &theirs));
        let same_costs = super::argon2()
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(super::verify("pw", &same_costs));
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let pool = super::PasswordHasher::start(1, 1);
        let jobs: Vec<_> = (0..8)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.hash(format!("pw{i}")).await })
            })
            .collect();
        let mut refused = 0;
        for job in jobs {
            refused += job.await.unwrap().is_err() as usize;
        }
        assert!(
            (1..8).contains(&refused),
            "8 jobs on 1 worker + 1 slot: {refused} refused"
        );
        assert!(pool.verify("pw".into(), None).await.is_ok_and(|ok| !ok));
    }
}
