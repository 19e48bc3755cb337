//! Handing a lock to a child process: the child inherits the locked
//! descriptor (as util-linux `flock(1)` does), so the lock lives as long as
//! the child (and whatever inherits it from the child), not just as long as
//! the parent.

use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes `fd` survive `exec` in the child `cmd` spawns (clears FD_CLOEXEC in
/// the child only, after fork: the parent's descriptor stays close-on-exec,
/// so children spawned concurrently by other threads do not get it). The fd
/// keeps its number in the child. `fd` must stay open until `spawn` returns.
pub fn share_fd_with_child(cmd: &mut Command, fd: RawFd) {
    // SAFETY: the closure only calls fcntl, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Has the kernel send `signal` to the child when the spawning thread dies
/// (PR_SET_PDEATHSIG), including a parent SIGKILLed before the child even
/// got to exec. Spawn from a thread that lives as long as the parent
/// cares (the main thread), since the kernel ties this to the thread.
pub fn terminate_with_parent(cmd: &mut Command, signal: i32) {
    // SAFETY: getpid before fork; the closure only calls prctl, getppid and
    // kill, all async-signal-safe.
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died before prctl took effect: nobody will signal us.
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), signal);
            }
            Ok(())
        });
    }
}
