package b3kernel

// UsePath makes p the path in use until restore is called; it reports
// false (and changes nothing) where the CPU cannot run p. For tests only,
// so that each path is tested on a host that has the fastest.
func UsePath(p Path) (restore func(), ok bool) {
	if !supported(p) {
		return func() {}, false
	}
	old := active
	active = p
	return func() { active = old }, true
}
