"""command_status values we act on (SMPP 3.4 table 5-2); any other value is passed through."""

ROK = 0x00
RINVMSGLEN = 0x01
RINVCMDLEN = 0x02
RINVCMDID = 0x03
RINVBNDSTS = 0x04
RALYBND = 0x05
RSYSERR = 0x08
RBINDFAIL = 0x0D
RINVPASWD = 0x0E
RINVSYSID = 0x0F
RMSGQFUL = 0x14
RSUBMITFAIL = 0x45
RTHROTTLED = 0x58
RINVOPTPARSTREAM = 0xC0
RINVPARLEN = 0xC2
RINVOPTPARAMVAL = 0xC4
RUNKNOWNERR = 0xFF

#: Statuses after which the same message may be submitted again later (with a new seq).
RETRYABLE = frozenset({RMSGQFUL, RTHROTTLED, RSYSERR, RUNKNOWNERR})
