#![no_main]
//! `syslog`: never panics; structured records are valid JSON

edgeship_fuzz::format_target!("format = \"syslog\"\ntypes = { response = \"int\", bytes = \"int\" }\ntimestamp_field = \"timestamp\"", true);
