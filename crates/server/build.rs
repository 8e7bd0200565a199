//! Build script: compiles the seccomp policy (`seccomp/policy.json`) to
//! BPF, so the running daemon only loads a finished program and never
//! parses JSON.

fn main() {
    println!("cargo:rerun-if-changed=seccomp/policy.json");

    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let mut bytes = Vec::new();
    let mut count = 0usize;
    if let Ok(target) = seccompiler::TargetArch::try_from(arch.as_str()) {
        let policy =
            std::fs::File::open("seccomp/policy.json").expect("seccomp/policy.json is readable");
        let filters =
            seccompiler::compile_from_json(policy, target).expect("seccomp/policy.json compiles");
        let program = filters.get("reddb").expect("policy has a 'reddb' filter");
        for insn in program {
            bytes.extend_from_slice(&insn.code.to_ne_bytes());
            bytes.push(insn.jt);
            bytes.push(insn.jf);
            bytes.extend_from_slice(&insn.k.to_ne_bytes());
        }
        let json: serde_json_count::Count = serde_json_count::count("seccomp/policy.json");
        count = json.0;
    }
    std::fs::write(out.join("seccomp.bpf"), &bytes).expect("write seccomp.bpf");
    println!("cargo:rustc-env=REDDB_SECCOMP_SYSCALLS={count}");
}

/// Counts distinct syscall names in the policy without a JSON dependency.
mod serde_json_count {
    pub struct Count(pub usize);

    pub fn count(path: &str) -> Count {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut names: Vec<&str> = text
            .split("\"syscall\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').nth(1))
            .collect();
        names.sort_unstable();
        names.dedup();
        Count(names.len())
    }
}
