//! Process CPU time for the stage profile (`stage: …` debug logs): on a shared
//! machine wall time measures the neighbours, CPU time measures us. Linux
//! only (`/proc/self/stat`, 10 ms ticks); elsewhere the logs carry wall time only.

/// User + system CPU milliseconds of this process so far, when known.
pub(crate) fn process_cpu_ms() -> Option<f64> {
    // Only the debug logs use it: no file reads per line otherwise.
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return None;
    }
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
        let rest = &stat[stat.rfind(')')? + 2..];
        let mut fields = rest.split_ascii_whitespace().skip(11);
        let utime: f64 = fields.next()?.parse().ok()?;
        let stime: f64 = fields.next()?.parse().ok()?;
        // USER_HZ is 100 on every Linux ABI Rust targets.
        Some((utime + stime) * 10.0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// CPU milliseconds between two [`process_cpu_ms`] readings, or NaN when unknown.
pub(crate) fn cpu_ms_between(start: Option<f64>, end: Option<f64>) -> f64 {
    match (start, end) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    }
}
