//! The config's `environment` block, checked against what the suites' CI landed.
//!
//! evaluate-gates does not run the suites: the CI that produces the reports does, in the
//! Docker Compose environment the config names. The block is the contract for that CI:
//! it lands the Compose file it used next to the project's reports, and evaluate-gates
//! checks that the file is there, is a regular file inside the reports directory, parses
//! as YAML and declares every listed service, then records the verdict and the file's
//! sha256 on every `gate_results` row of the project. A report produced elsewhere than
//! the contract says is then visible in the table instead of silently trusted.

use std::path::{Component, Path};

use sha2::{Digest, Sha256};

use crate::config::Environment;

/// What was found of the Compose file for one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvironmentStatus {
    /// Landed, parses, declares every listed service.
    Verified,
    /// Not landed with the reports.
    Missing,
    /// Landed but unusable (not a regular file, too large, not YAML, a service missing).
    Invalid,
}

impl EnvironmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Missing => "missing",
            Self::Invalid => "invalid",
        }
    }
}

/// The check of one project's environment, repeated on each of its `gate_results` rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentCheck {
    pub compose_file: String,
    pub status: EnvironmentStatus,
    /// sha256 of the file, when one was read.
    pub sha256: Option<String>,
    /// Why it is not `verified` (never the file's content).
    pub problem: Option<String>,
}

/// Why `compose_file` cannot name a file inside a reports directory, if it cannot.
pub fn path_problem(compose_file: &Path) -> Option<&'static str> {
    if compose_file.as_os_str().is_empty() {
        return Some("is empty");
    }
    if compose_file
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Some("must be a relative path without `..`");
    }
    None
}

/// Checks `environment` against the reports directory `reports_dir` of one project.
pub fn check(environment: &Environment, reports_dir: &Path, max_bytes: u64) -> EnvironmentCheck {
    let compose_file = environment.compose_file.to_string_lossy().into_owned();
    let outcome = |status, sha256, problem: Option<String>| EnvironmentCheck {
        compose_file: compose_file.clone(),
        status,
        sha256,
        problem,
    };
    if let Some(problem) = path_problem(&environment.compose_file) {
        return outcome(EnvironmentStatus::Invalid, None, Some(format!("compose_file {problem}")));
    }
    let path = reports_dir.join(&environment.compose_file);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return outcome(
                EnvironmentStatus::Missing,
                None,
                Some(format!("`{}` did not land with the reports", path.display())),
            );
        }
        Err(e) => return outcome(EnvironmentStatus::Invalid, None, Some(format!("`{}`: {e}", path.display()))),
    };
    if !meta.file_type().is_file() {
        return outcome(
            EnvironmentStatus::Invalid,
            None,
            Some(format!("`{}` is not a regular file (symlinks are not followed)", path.display())),
        );
    }
    if meta.len() > max_bytes {
        return outcome(
            EnvironmentStatus::Invalid,
            None,
            Some(format!("`{}` is larger than {max_bytes} bytes", path.display())),
        );
    }
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => return outcome(EnvironmentStatus::Invalid, None, Some(format!("`{}`: {e}", path.display()))),
    };
    let sha256 = Some(format!("{:x}", Sha256::digest(&bytes)));
    if let Err(e) = hive_core::yaml::check_nesting(&String::from_utf8_lossy(&bytes)) {
        return outcome(EnvironmentStatus::Invalid, sha256, Some(format!("`{}`: {e}", path.display())));
    }
    let document: serde_yaml::Value = match serde_yaml::from_slice(&bytes) {
        Ok(document) => document,
        Err(e) => {
            let at = e
                .location()
                .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
                .unwrap_or_default();
            return outcome(
                EnvironmentStatus::Invalid,
                sha256,
                Some(format!("`{}` is not YAML{at}", path.display())),
            );
        }
    };
    let Some(services) = document.get("services").and_then(serde_yaml::Value::as_mapping) else {
        return outcome(
            EnvironmentStatus::Invalid,
            sha256,
            Some(format!("`{}` has no `services` mapping", path.display())),
        );
    };
    if let Some(absent) = environment
        .services
        .iter()
        .find(|s| !services.contains_key(serde_yaml::Value::String((*s).clone())))
    {
        return outcome(
            EnvironmentStatus::Invalid,
            sha256,
            Some(format!("`{}` does not declare service `{absent}`", path.display())),
        );
    }
    outcome(EnvironmentStatus::Verified, sha256, None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn environment(services: &[&str]) -> Environment {
        Environment {
            compose_file: "docker-compose.quality.yaml".into(),
            services: services.iter().map(|s| (*s).to_owned()).collect(),
            env: std::collections::BTreeMap::new(),
        }
    }

    #[test]
    fn verified_missing_and_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let env = environment(&["postgres", "app"]);
        assert_eq!(check(&env, dir.path(), 1 << 20).status, EnvironmentStatus::Missing);

        let file = dir.path().join("docker-compose.quality.yaml");
        std::fs::write(&file, "services:\n  postgres: {image: postgres:16}\n  app: {build: .}\n").unwrap();
        let ok = check(&env, dir.path(), 1 << 20);
        assert_eq!(ok.status, EnvironmentStatus::Verified, "{ok:?}");
        assert_eq!(ok.sha256.as_deref().map(str::len), Some(64));

        std::fs::write(&file, "services:\n  postgres: {image: postgres:16}\n").unwrap();
        let absent = check(&env, dir.path(), 1 << 20);
        assert_eq!(absent.status, EnvironmentStatus::Invalid);
        assert!(absent.problem.unwrap().contains("service `app`"));

        std::fs::write(&file, "services: [unclosed\nPASSWORD=hunter2\n").unwrap();
        let bad = check(&env, dir.path(), 1 << 20);
        assert_eq!(bad.status, EnvironmentStatus::Invalid);
        assert!(!bad.problem.unwrap().contains("hunter2"), "the file's content is never echoed");

        assert_eq!(check(&env, dir.path(), 4).status, EnvironmentStatus::Invalid, "over the size cap");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_compose_file_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("docker-compose.quality.yaml")).unwrap();
        let c = check(&environment(&[]), dir.path(), 1 << 20);
        assert_eq!(c.status, EnvironmentStatus::Invalid);
        assert!(c.sha256.is_none());
    }

    #[test]
    fn paths_leaving_the_reports_directory_are_refused() {
        assert!(path_problem(Path::new("../compose.yaml")).is_some());
        assert!(path_problem(Path::new("/etc/compose.yaml")).is_some());
        assert!(path_problem(Path::new("ci/compose.yaml")).is_none());
    }
}
