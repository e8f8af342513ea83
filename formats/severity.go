package formats

import "slices"

// KindsBySeverity lists the kinds a refusal can have, most severe first.
// When one verdict must stand for several refusals (scan's summary and
// exit status, a service's answer), it names the most severe of them:
//
//  1. pickle, code: the content runs code when loaded;
//  2. path-traversal: a name or link reaches outside the model;
//  3. digest-mismatch, signature-invalid, identity-mismatch,
//     not-allowlisted: the bytes are not the approved ones, or nobody
//     approved them;
//  4. malformed, limit-exceeded: the bytes break their format or its
//     limits (how parser exploits look);
//  5. unsupported, unknown-format: a format modelgate does not load;
//  6. io: reading failed, which says nothing about the content;
//  7. usage: the configuration is wrong (a digest file naming nothing in
//     the model, options that contradict each other), which says nothing
//     about the model either.
var KindsBySeverity = []Kind{
	KindPickle, KindCode,
	KindPathTraversal,
	KindDigestMismatch, KindSignatureInvalid, KindIdentityMismatch, KindNotAllowlisted,
	KindMalformed, KindLimitExceeded,
	KindUnsupported, KindUnknownFormat,
	KindIO,
	KindUsage,
}

// MoreSevere reports whether a refusal of kind a is more severe than one
// of kind b, in the order of KindsBySeverity. A kind not in the list (the
// empty kind) is the least severe.
func MoreSevere(a, b Kind) bool {
	rank := func(k Kind) int {
		if i := slices.Index(KindsBySeverity, k); i >= 0 {
			return i
		}
		return len(KindsBySeverity)
	}
	return rank(a) < rank(b)
}
