package formats

// Formats that are no model but ship beside one. formats/content names
// them by their structure and calls them inert: nothing that loads a
// model reads them.
const (
	FormatSentencePiece Format = "sentencepiece" // a SentencePiece ModelProto (tokenizer)
	FormatPNG           Format = "png"
	FormatJPEG          Format = "jpeg"
	FormatGIF           Format = "gif"
	FormatWebP          Format = "webp"
	FormatPDF           Format = "pdf"
)
