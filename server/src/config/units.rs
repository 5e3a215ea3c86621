//! Serde adapters for the two settings whose file form differs from their
//! typed form: an idle TTL where `"0s"` means "never", and a memory budget
//! written in MiB but held in bytes. Each is declared once here and used by
//! the file, the flags and the defaults alike.

/// `Option<Duration>` as a humantime string; `"0s"` is `None`.
pub mod ttl {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `None` as `"0s"`, so the value reads back the same.
    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        humantime_serde::Serde::from(value.unwrap_or(Duration::ZERO)).serialize(s)
    }

    /// Reads a humantime string; zero turns the timer off.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let value = humantime_serde::Serde::<Duration>::deserialize(d)?.into_inner();
        Ok((!value.is_zero()).then_some(value))
    }
}

/// `Option<u64>` bytes written as whole MiB (`memory_budget_mb = 16000`).
pub mod mib {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    const MIB: u64 = 1024 * 1024;

    /// Writes bytes as MiB, rounded down (values read from a file or a flag
    /// are whole MiB, so they read back the same).
    pub fn serialize<S: Serializer>(value: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        value.map(|bytes| bytes / MIB).serialize(s)
    }

    /// Reads MiB and returns bytes; a value whose bytes overflow `u64` is an error.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Option::<u64>::deserialize(d)?
            .map(|mb| {
                mb.checked_mul(MIB)
                    .ok_or_else(|| D::Error::custom(format!("{mb} MiB does not fit in 64 bits")))
            })
            .transpose()
    }
}
