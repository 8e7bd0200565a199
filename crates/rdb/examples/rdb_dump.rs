//! Prints what an RDB file holds, one line per record (for looking at a
//! file by hand): `cargo run -p reddb-rdb --example rdb_dump -- FILE`.

use reddb_rdb::{Limits, RdbReader, Record};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: rdb_dump FILE");
        std::process::exit(2);
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let len = file.metadata().ok().map(|m| m.len());
    let mut reader = match RdbReader::new(file, len, Limits::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    loop {
        match reader.next_record() {
            Ok(Some(Record::Item(i))) => println!(
                "db {} {} {:?} ttl={:?} {:?}",
                i.db,
                i.value.type_name(),
                String::from_utf8_lossy(&i.key),
                i.expires_at_ms,
                i.value
            ),
            Ok(Some(Record::Unsupported { kind, db, key })) => println!(
                "db {db} unsupported {} {:?}",
                kind.name(),
                key.map(|k| String::from_utf8_lossy(&k).into_owned())
            ),
            Ok(None) => break,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        }
    }
    println!(
        "version {} checksum {:?} aux {}",
        reader.version(),
        reader.checksum(),
        reader.aux().len()
    );
}
