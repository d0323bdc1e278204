package mailtest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
)

// decode reads a message's subject and its text/plain body, undoing the
// transfer encodings go-mail uses (quoted-printable by default, base64 on
// request), so that a test can search the body for a link as the reader
// would see it. Multipart messages give their first text/plain part.
// Charsets other than UTF-8 and ASCII are not converted.
func decode(raw []byte) (subject, body string, err error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", "", fmt.Errorf("headers: %w", err)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return "", "", fmt.Errorf("subject: %w", err)
	}
	b, err := textPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	if err != nil {
		return "", "", err
	}
	return subject, string(b), nil
}

// textPart returns the decoded text/plain content of an entity, looking
// inside multipart ones.
func textPart(contentType, encoding string, r io.Reader) ([]byte, error) {
	mediaType, params := "text/plain", map[string]string{}
	if contentType != "" {
		var err error
		if mediaType, params, err = mime.ParseMediaType(contentType); err != nil {
			return nil, fmt.Errorf("content type: %w", err)
		}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(r, params["boundary"])
		for {
			// Raw, so that textPart undoes every transfer encoding in one
			// place (NextPart would undo quoted-printable only).
			p, err := mr.NextRawPart()
			if err != nil {
				return nil, fmt.Errorf("no text/plain part: %w", err)
			}
			b, err := textPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if err == nil {
				return b, nil
			}
		}
	}
	if mediaType != "text/plain" {
		return nil, errors.New("not text/plain: " + mediaType)
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r) // skips the line breaks
	case "", "7bit", "8bit", "binary":
	default:
		return nil, errors.New("unknown transfer encoding " + encoding)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	// SMTP carries lines ending in CRLF; a test looks for text, not for them.
	return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), nil
}
