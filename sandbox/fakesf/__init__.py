"""A local Salesforce that speaks the real REST shapes over real HTTPS, for tests and the demo.

Not a mock of `requests`: simple-salesforce talks to it exactly as to a real org, through the
token endpoint, SOQL queries with `nextRecordsUrl` paging, `/limits`, EventLogFile downloads
and the OAuth usage resources, with Salesforce's error bodies and switchable faults.
"""
