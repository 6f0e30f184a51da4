package catalog

import (
	_ "embed"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Question is a review question about a control that no source can show:
// SAST in CI, tested backups, incident response, compliance scope.
type Question struct {
	ID       string `yaml:"id" json:"id"`
	Topic    string `yaml:"topic" json:"topic"`
	Stride   Stride `yaml:"stride" json:"stride"`
	Question string `yaml:"question" json:"question"`
	Why      string `yaml:"why" json:"why"`
}

// Answers a question takes.
var Answers = []string{"yes", "partly", "no", "n/a"}

//go:embed questions.yaml
var questionsYAML []byte

// Questions returns the built-in review questions in their file order.
func Questions() ([]Question, error) {
	var qs []Question
	if err := yaml.Unmarshal(questionsYAML, &qs); err != nil {
		return nil, fmt.Errorf("built-in questions: %w", err)
	}
	return qs, nil
}
