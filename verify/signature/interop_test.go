package signature_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/formats"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/signature"
)

// The interop matrix runs the real model_signing (sigstore/model-transparency,
// from its source, through testdata/interop/model_signing_driver.py) against
// modelgate: each side signs, both verify, over hash type x serialization x
// method x tamper. A cell passes when both give the same verdict, or when
// the difference is one the README lists (deliberateDifference).
const interopEnv = "MODELGATE_MODEL_SIGNING"

// interopSetup is the one line a skipped run prints.
const interopSetup = interopEnv + " is unset: set it to a PYTHONPATH holding model_signing's src/ and its pure-Python deps (README: \"Interop with model_signing\"); " + interopEnv + "_PYTHON names the interpreter (default python3)"

// refJob is one job for the driver (see its doc string).
type refJob struct {
	Op                 string   `json:"op"`
	Model              string   `json:"model"`
	Signature          string   `json:"signature"`
	PrivateKey         string   `json:"private_key,omitempty"`
	PublicKey          string   `json:"public_key,omitempty"`
	SigningCertificate string   `json:"signing_certificate,omitempty"`
	CertificateChain   []string `json:"certificate_chain,omitempty"`
	Hash               string   `json:"hash"`
	ShardSize          int64    `json:"shard_size"`
	IgnorePaths        []string `json:"ignore_paths,omitempty"`
	Guess              bool     `json:"guess,omitempty"`
}

type refResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

// runReference runs the driver over jobs, all in one process.
func runReference(t *testing.T, jobs []refJob) []refResult {
	t.Helper()
	if len(jobs) == 0 {
		return nil
	}
	in, err := json.Marshal(jobs)
	require.NoError(t, err)
	py := os.Getenv(interopEnv + "_PYTHON")
	if py == "" {
		py = "python3"
	}
	cmd := exec.Command(py, filepath.Join("testdata", "interop", "model_signing_driver.py"))
	cmd.Env = append(os.Environ(), "PYTHONPATH="+os.Getenv(interopEnv), "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "driver: %s", stderr.String())
	var res []refResult
	require.NoError(t, json.Unmarshal(out, &res), "driver output %q", out)
	require.Len(t, res, len(jobs))
	return res
}

// pki is the keys and certificates the matrix signs with, as PEM files.
type pki struct {
	dir                             string
	p256, p384, p521                *ecdsa.PrivateKey
	root, inter                     *x509.Certificate
	rootKey, interKey               *ecdsa.PrivateKey
	rootPEM, interPEM, interAndRoot string
}

func writePEM(t *testing.T, path, typ string, ders ...[]byte) string {
	var b bytes.Buffer
	for _, d := range ders {
		require.NoError(t, pem.Encode(&b, &pem.Block{Type: typ, Bytes: d}))
	}
	return writeT(t, path, b.Bytes())
}

func keyFiles(t *testing.T, dir, name string, k *ecdsa.PrivateKey) (priv, pub string) {
	p8, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	return writePEM(t, filepath.Join(dir, name+".key"), "PRIVATE KEY", p8), writePEM(t, filepath.Join(dir, name+".pub"), "PUBLIC KEY", spki)
}

func newCert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	der, err := x509.CreateCertificate(crand.Reader, tmpl, parent, pub, signer)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

func newPKI(t *testing.T) *pki {
	p := &pki{dir: t.TempDir()}
	gen := func(c elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(c, crand.Reader)
		require.NoError(t, err)
		return k
	}
	p.p256, p.p384, p.p521, p.rootKey, p.interKey = gen(elliptic.P256()), gen(elliptic.P384()), gen(elliptic.P521()), gen(elliptic.P256()), gen(elliptic.P256())
	now := time.Now()
	ca := func(serial int64, cn string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	p.root = newCert(t, ca(1, "interop root"), ca(1, "interop root"), &p.rootKey.PublicKey, p.rootKey)
	p.inter = newCert(t, ca(2, "interop intermediate"), p.root, &p.interKey.PublicKey, p.rootKey)
	p.rootPEM = writePEM(t, filepath.Join(p.dir, "root.pem"), "CERTIFICATE", p.root.Raw)
	p.interPEM = writePEM(t, filepath.Join(p.dir, "inter.pem"), "CERTIFICATE", p.inter.Raw)
	p.interAndRoot = writePEM(t, filepath.Join(p.dir, "inter-root.pem"), "CERTIFICATE", p.inter.Raw, p.root.Raw)
	return p
}

// leaf issues a leaf for key under the intermediate, edited by edit.
func (p *pki) leaf(t *testing.T, name string, key *ecdsa.PrivateKey, edit func(*x509.Certificate)) string {
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(len(name)) + 100), Subject: pkix.Name{CommonName: "interop " + name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	if edit != nil {
		edit(tmpl)
	}
	c := newCert(t, tmpl, p.inter, &key.PublicKey, p.interKey)
	return writePEM(t, filepath.Join(p.dir, name+".pem"), "CERTIFICATE", c.Raw)
}

// method is how a cell signs and how both sides verify it.
type method struct {
	name               string
	key                *ecdsa.PrivateKey
	priv, pub          string // key files
	cert               string // signing certificate, "" for the key method
	chain              []string
	anchors            []string // what verifiers trust for a certificate
	deliberate         string   // the README's reason when the verdicts differ
	refOK, modelgateOK bool     // expected verdicts, for the certificate cases
}

// interopModel writes the model every cell starts from: text, an empty
// file, weights in two folders, and a name holding a backslash.
func interopModel(t *testing.T, dir string) {
	r := rand.New(rand.NewPCG(7, 7))
	w := make([]byte, 3000)
	for i := range w {
		w[i] = byte(r.Uint32())
	}
	writeT(t, filepath.Join(dir, "a.txt"), []byte("hello\n"))
	writeT(t, filepath.Join(dir, "empty.txt"), nil)
	writeT(t, filepath.Join(dir, "w.bin"), w)
	writeT(t, filepath.Join(dir, "sub", "c.json"), []byte(`{"a": 1}`))
	writeT(t, filepath.Join(dir, "sub", "w2.bin"), w[:200])
	writeT(t, filepath.Join(dir, `a\b.txt`), []byte("backslash\n"))
}

// interopTampers change a signed model (or its bundle) after signing.
var interopTampers = map[string]func(t *testing.T, model, sig string){
	"none": func(*testing.T, string, string) {},
	"flip byte": func(t *testing.T, m, _ string) {
		if filepath.Base(m) != "w.bin" {
			m = filepath.Join(m, "w.bin")
		}
		flip(t, m, 1500)
	},
	"add file": func(t *testing.T, m, _ string) { writeT(t, filepath.Join(m, "new.txt"), []byte("x")) },
	"remove file": func(t *testing.T, m, _ string) {
		require.NoError(t, os.Remove(filepath.Join(m, "a.txt")))
	},
	"rename file": func(t *testing.T, m, _ string) {
		require.NoError(t, os.Rename(filepath.Join(m, "a.txt"), filepath.Join(m, "a2.txt")))
	},
	"add empty file":    func(t *testing.T, m, _ string) { writeT(t, filepath.Join(m, "sub", "__init__.py"), nil) },
	"edit ignore_paths": func(t *testing.T, _, sig string) { editIgnorePaths(t, sig, "w.bin") },
	// The verifier's own ignore paths (model_signing's verify
	// --ignore-paths, modelgate's WithIgnorePaths) over signed files.
	"verifier ignores a.txt": func(*testing.T, string, string) {},
	"verifier ignores w.bin": func(*testing.T, string, string) {},
}

// verifierIgnores is what a tamper case asks the verifiers to ignore.
func verifierIgnores(tamper string) []string {
	if p, ok := strings.CutPrefix(tamper, "verifier ignores "); ok {
		return []string{p}
	}
	return nil
}

// editIgnorePaths adds a path to the signed statement's ignore_paths,
// leaving the signature as it was.
func editIgnorePaths(t *testing.T, sig, add string) {
	var b map[string]any
	raw, err := os.ReadFile(sig)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &b))
	env := b["dsseEnvelope"].(map[string]any)
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	require.NoError(t, err)
	var st map[string]any
	require.NoError(t, json.Unmarshal(payload, &st))
	ser := st["predicate"].(map[string]any)["serialization"].(map[string]any)
	ser["ignore_paths"] = append(ser["ignore_paths"].([]any), add)
	payload, err = json.Marshal(st)
	require.NoError(t, err)
	env["payload"] = base64.StdEncoding.EncodeToString(payload)
	raw, err = json.Marshal(b)
	require.NoError(t, err)
	writeT(t, sig, raw)
}

// cell is one signing and its two verifications.
type cell struct {
	name       string
	signer     string // "ref" or "modelgate"
	hash       string
	shards     int64
	m          *method
	ignore     []string
	tamper     string
	model, sig string
	ref, mg    refResult
	mgKind     formats.Kind
	deliberate string
}

// deliberateDifference is the README's reason for a verdict modelgate
// gives and model_signing does not, or "".
func deliberateDifference(c *cell) string {
	if c.m.deliberate != "" {
		return c.m.deliberate
	}
	for _, p := range c.ignore {
		if (p == "w.bin" || p == "sub") && c.tamper == "none" && c.ref.OK && !c.mg.OK && c.mgKind == formats.KindNotAllowlisted {
			return "a signature whose ignore_paths leave out weights is refused: every file that loads must be signed"
		}
	}

	return ""
}

// TestModelSigningInterop runs the matrix against the real model_signing
// when MODELGATE_MODEL_SIGNING points at it (README: "Interop with
// model_signing"); every cell must agree or be a listed difference.
func TestModelSigningInterop(t *testing.T) {
	if os.Getenv(interopEnv) == "" {
		t.Skip(interopSetup)
	}
	p := newPKI(t)
	var methods []*method
	for _, k := range []struct {
		name string
		key  *ecdsa.PrivateKey
	}{{"key P-256", p.p256}, {"key P-384", p.p384}, {"key P-521", p.p521}} {
		priv, pub := keyFiles(t, p.dir, strings.ReplaceAll(k.name, " ", "-"), k.key)
		methods = append(methods, &method{name: k.name, key: k.key, priv: priv, pub: pub, refOK: true, modelgateOK: true})
	}
	leafPriv, _ := keyFiles(t, p.dir, "leaf", p.p256)
	good := p.leaf(t, "leaf", p.p256, nil)
	methods = append(methods,
		&method{name: "certificate, chain without root", key: p.p256, priv: leafPriv, cert: good, chain: []string{p.interPEM}, anchors: []string{p.rootPEM}, refOK: true, modelgateOK: true},
		&method{name: "certificate, chain with root", key: p.p256, priv: leafPriv, cert: good, chain: []string{p.interAndRoot}, anchors: []string{p.rootPEM}, refOK: true, modelgateOK: true},
	)
	// Certificates checked as model_signing checks them (sha256 files only).
	certCases := []*method{
		{name: "leaf without key usages", cert: p.leaf(t, "no-usage", p.p256, func(c *x509.Certificate) { c.KeyUsage, c.ExtKeyUsage = 0, nil })},
		{name: "leaf keyEncipherment only", cert: p.leaf(t, "key-enc", p.p256, func(c *x509.Certificate) { c.KeyUsage, c.ExtKeyUsage = x509.KeyUsageKeyEncipherment, nil })},
		{name: "leaf codeSigning EKU only", cert: p.leaf(t, "eku-only", p.p256, func(c *x509.Certificate) { c.KeyUsage = 0 }), refOK: true, modelgateOK: true},
		{name: "intermediate as the only anchor", cert: good, anchors: []string{p.interPEM}},
		{name: "expired leaf", cert: p.leaf(t, "expired", p.p256, func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-40*time.Hour), time.Now().Add(-30*time.Hour)
		}), refOK: true, deliberate: "an expired leaf is refused: a certificate bundle carries no log or timestamp proving it was signed while the leaf was valid"},
	}
	for _, m := range certCases {
		m.key, m.priv, m.chain = p.p256, leafPriv, []string{p.interPEM}
		if m.anchors == nil {
			m.anchors = []string{p.rootPEM}
		}
	}

	work := t.TempDir()
	var cells []*cell
	add := func(signer, hash string, shards int64, m *method, ignore []string, tamper string) *cell {
		c := &cell{signer: signer, hash: hash, shards: shards, m: m, ignore: ignore, tamper: tamper}
		c.name = fmt.Sprintf("%s signs/%s/shards %d/%s/ignore %v/%s", signer, hash, shards, m.name, ignore, tamper)
		d := filepath.Join(work, fmt.Sprint(len(cells)))
		c.model, c.sig = filepath.Join(d, "model"), filepath.Join(d, "model.sig")
		interopModel(t, c.model)
		cells = append(cells, c)
		return c
	}
	for _, signer := range []string{"ref", "modelgate"} {
		for _, hash := range []string{"sha256", "blake2", "blake3"} {
			for _, shards := range []int64{0, 1000} {
				for _, m := range methods {
					for tamper := range interopTampers {
						add(signer, hash, shards, m, nil, tamper)
					}
					for _, ig := range []string{"a.txt", "w.bin", "sub"} {
						add(signer, hash, shards, m, []string{ig}, "none")
					}
				}
			}
		}
		for _, m := range certCases {
			add(signer, "sha256", 0, m, nil, "none")
		}
		// The bundle inside the model, as both write it by default.
		for _, hash := range []string{"sha256", "blake2", "blake3"} {
			for _, shards := range []int64{0, 1000} {
				for _, tamper := range []string{"none", "flip byte", "add file"} {
					c := add(signer, hash, shards, methods[0], nil, tamper)
					c.name += "/bundle inside"
					c.sig = filepath.Join(c.model, "model.sig")
				}
			}
		}
		// A model that is one file: model_signing names its resource ".".
		for _, hash := range []string{"sha256", "blake2", "blake3"} {
			for _, shards := range []int64{0, 1000} {
				for _, tamper := range []string{"none", "flip byte"} {
					c := add(signer, hash, shards, methods[0], nil, tamper)
					c.name += "/single file"
					c.model = filepath.Join(c.model, "w.bin")
				}
			}
		}
	}

	// Sign: modelgate in process, the reference in one batch.
	var jobs []refJob
	var refSigned []*cell
	for _, c := range cells {
		if c.signer == "ref" {
			jobs = append(jobs, refJob{Op: "sign", Model: c.model, Signature: c.sig, PrivateKey: c.m.priv, SigningCertificate: c.m.cert,
				CertificateChain: c.m.chain, Hash: c.hash, ShardSize: c.shards, IgnorePaths: c.ignore})
			refSigned = append(refSigned, c)
			continue
		}
		alg, err := verify.ParseAlgorithm(c.hash)
		require.NoError(t, err)
		opts := signature.SignOptions{Hash: alg, ShardSize: c.shards, IgnorePaths: c.ignore}
		if c.m.cert != "" {
			leaf, err := signature.LoadCertificatesFile(c.m.cert)
			require.NoError(t, err)
			opts.Certificate = leaf[0]
			for _, f := range c.m.chain {
				cs, err := signature.LoadCertificatesFile(f)
				require.NoError(t, err)
				opts.Chain = append(opts.Chain, cs...)
			}
		}
		b, err := signature.SignModel(context.Background(), c.model, c.m.key, opts)
		require.NoError(t, err, c.name)
		writeT(t, c.sig, b)
	}
	for i, r := range runReference(t, jobs) {
		require.True(t, r.OK, "the reference signs %s: %s", refSigned[i].name, r.Error)
	}

	// Tamper, then verify with both.
	jobs = jobs[:0]
	for _, c := range cells {
		interopTampers[c.tamper](t, c.model, c.sig)
		j := refJob{Op: "verify", Model: c.model, Signature: c.sig, Hash: c.hash, ShardSize: c.shards, CertificateChain: c.m.anchors, IgnorePaths: verifierIgnores(c.tamper)}
		if c.m.cert == "" {
			j.PublicKey = c.m.pub
		}
		jobs = append(jobs, j)
		var opt signature.Option
		if c.m.cert == "" {
			opt = signature.WithPublicKey("k", &c.m.key.PublicKey)
		} else {
			opt = signature.WithCAFile(c.m.anchors[0])
		}
		v, err := signature.NewVerifier(opt, signature.WithIgnorePaths(verifierIgnores(c.tamper)...))
		require.NoError(t, err)
		md, err := verify.ListModel(c.model)
		require.NoError(t, err)
		md.Bundle = c.sig
		_, err = v.VerifyModel(context.Background(), md)
		c.mg = refResult{OK: err == nil}
		if err != nil {
			c.mg.Error, c.mgKind = err.Error(), formats.KindOf(err)
		}
	}
	// model_signing's verifier, left to guess the hashing from the
	// manifest, reads what modelgate writes; its own shards (shard_size
	// written as a float) and blake2 (hash_type "blake2b") it cannot read
	// back (README: "Where model_signing's format and its reference code
	// disagree").
	var guessed []*cell
	for _, c := range cells {
		if c.tamper == "none" && c.ignore == nil && c.m.refOK {
			j := refJob{Op: "verify", Model: c.model, Signature: c.sig, CertificateChain: c.m.anchors, Guess: true}
			if c.m.cert == "" {
				j.PublicKey = c.m.pub
			}
			jobs, guessed = append(jobs, j), append(guessed, c)
		}
	}
	res := runReference(t, jobs)
	for i, c := range cells {
		c.ref = res[i]
	}
	for i, r := range res[len(cells):] {
		c := guessed[i]
		ownBug := c.signer == "ref" && (c.hash == "blake2" || c.shards > 0 && c.hash != "blake3")
		if r.OK == ownBug {
			t.Errorf("%s: model_signing guessing its configuration: ok=%v %s", c.name, r.OK, r.Error)
		}
	}

	agree, deliberate := 0, 0
	var disagree []string
	for _, c := range cells {
		switch c.deliberate = deliberateDifference(c); {
		case c.ref.OK == c.mg.OK && c.m.deliberate == "":
			agree++
		case c.deliberate != "":
			deliberate++
		default:
			disagree = append(disagree, fmt.Sprintf("%s: model_signing ok=%v %s; modelgate ok=%v %s", c.name, c.ref.OK, c.ref.Error, c.mg.OK, c.mg.Error))
		}
		// The certificate cases also state each verdict.
		if c.m.cert != "" && c.shards == 0 && c.hash == "sha256" && c.tamper == "none" && c.ignore == nil {
			if c.ref.OK != c.m.refOK || c.mg.OK != c.m.modelgateOK {
				disagree = append(disagree, fmt.Sprintf("%s: want model_signing ok=%v, modelgate ok=%v; got %v (%s), %v (%s)", c.name, c.m.refOK, c.m.modelgateOK, c.ref.OK, c.ref.Error, c.mg.OK, c.mg.Error))
			}
			if !c.mg.OK && c.m.deliberate == "" && strings.Contains(c.m.name, "leaf") {
				require.Equal(t, formats.KindSignatureInvalid, c.mgKind, c.name)
			}
		}
	}
	sort.Strings(disagree)
	verdicts := map[string]int{}
	for _, c := range cells {
		verdicts[fmt.Sprintf("%-17s model_signing ok=%-5v modelgate ok=%v", c.tamper, c.ref.OK, c.mg.OK)]++
	}
	keys := make([]string, 0, len(verdicts))
	for k := range verdicts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%s: %d cells", k, verdicts[k])
	}
	t.Logf("model_signing interop: %d cells, %d agree, %d deliberate differences (README), %d disagree", len(cells), agree, deliberate, len(disagree))
	for _, d := range disagree {
		t.Error(d)
	}
}
