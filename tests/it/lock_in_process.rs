//! Exclusion between threads of one process (where flock may not exclude:
//! NFS emulates it with per-process POSIX locks). Here threads are the
//! scenario, so this test calls the library directly.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use fleet::lock::{Lock, Mode};

const ROUNDS: usize = 500;

#[test]
fn threads_taking_one_exclusive_lock_never_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("x.lock"));
    let inside = Arc::new(AtomicUsize::new(0));
    let entered = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (path, inside, entered) = (path.clone(), inside.clone(), entered.clone());
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let lock = Lock::acquire(&path, Duration::from_secs(60), "test").unwrap();
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                    entered.fetch_add(1, Ordering::SeqCst);
                    thread::yield_now();
                    assert_eq!(inside.fetch_sub(1, Ordering::SeqCst), 1, "two holders");
                    drop(lock);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(entered.load(Ordering::SeqCst), 4 * ROUNDS);
}

#[test]
fn shared_holders_in_threads_coexist_and_exclude_an_exclusive_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("u.lock"));
    let both_in = Arc::new(Barrier::new(3));
    let may_leave = Arc::new(Barrier::new(3));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (path, both_in, may_leave) = (path.clone(), both_in.clone(), may_leave.clone());
            thread::spawn(move || {
                let lock =
                    Lock::acquire_mode(&path, Mode::Shared, Duration::from_secs(10), "r").unwrap();
                both_in.wait();
                may_leave.wait();
                drop(lock);
            })
        })
        .collect();
    both_in.wait();
    assert!(Lock::try_acquire(&path, Mode::Exclusive, "w")
        .unwrap()
        .is_none());
    let err = Lock::acquire(&path, Duration::from_millis(200), "w").unwrap_err();
    assert_eq!(
        fleet::error::exit_code_of(&err),
        fleet::error::ExitCode::LockTimeout
    );
    may_leave.wait();
    for r in readers {
        r.join().unwrap();
    }
    assert!(Lock::try_acquire(&path, Mode::Exclusive, "w")
        .unwrap()
        .is_some());
}
