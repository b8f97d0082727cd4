#![no_main]
//! `rfc3339_syslog`: never panics; structured records are valid JSON

edgeship_fuzz::format_target!("format = \"rfc3339_syslog\"\ntypes = { response = \"int\", bytes = \"int\" }\ntimestamp_field = \"timestamp\"", true);
