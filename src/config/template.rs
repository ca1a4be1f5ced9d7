//! The commented experiment file `exp init` writes: a valid starting point for a data set
//! and an architecture, with a small grid, each key explained in a comment.

use super::spec::{Architecture, DatasetName};

/// A complete experiment file named `name` training `architecture` on `dataset`: 5-fold
/// cross-validation, Adam with early stopping, and a grid over the embedding size (the
/// closed-form baselines have neither, so they get a plain holdout file).
pub fn experiment_template(name: &str, dataset: DatasetName, architecture: Architecture) -> String {
    let mut text = format!(
        "\
# An exp experiment file. `exp run FILE` trains every configuration of its grid on every
# fold and stores them; `exp compare -e {name}` ranks them. Every key is documented in
# docs/experiment-file.md; `exp list models|datasets|metrics|optimizers|losses` prints the
# choices.

[experiment]
name = \"{name}\"   # names its runs in the database
seed = 42           # draws the split, the initial weights and the batch order

[data]
dataset = \"{dataset}\"   # {dataset_about}
",
        dataset = dataset.as_str(),
        dataset_about = dataset.description(),
    );
    if architecture.is_closed_form() {
        text.push_str(&format!(
            "\
[split]
kind = \"holdout\"
test_fraction = 0.1   # 10% of the ratings are the test split

[model]
architecture = \"{architecture}\"   # {about}
embedding_size = 8   # required by the file format; a closed-form baseline has no embeddings

# A closed-form baseline is fitted, not trained: [training] is required but only checked.
[training]
epochs = 1
batch_size = 1024
learning_rate = 0.001

[metrics]
names = [\"rmse\", \"mae\"]
",
            architecture = architecture.as_str(),
            about = architecture.description(),
        ));
        return text;
    }
    text.push_str(&format!(
        "\
[split]
kind = \"kfold\"              # or \"holdout\" with test_fraction = 0.1
k = 5                       # every configuration trains on each of the 5 folds
validation_fraction = 0.1   # taken from the training part; early stopping watches it

[model]
architecture = \"{architecture}\"   # {about}
embedding_size = 32
",
        architecture = architecture.as_str(),
        about = architecture.description(),
    ));
    let hidden = architecture.default_hidden_layers();
    if !hidden.is_empty() {
        let layers: Vec<String> = hidden.iter().map(usize::to_string).collect();
        text.push_str(&format!(
            "hidden_layers = [{}]   # widths of the dense layers\n",
            layers.join(", ")
        ));
    }
    let optimizer = if architecture == Architecture::FunkSvd {
        "optimizer = \"sgd\"       # Funk SVD is trained by plain SGD\nlearning_rate = 0.01\n"
    } else {
        "optimizer = \"adam\"      # or \"adamax\", \"sgd\"\nlearning_rate = 0.001\n"
    };
    text.push_str(&format!(
        "\
[training]
epochs = 20
batch_size = 256
{optimizer}\
loss = \"mse\"            # or \"mae\", \"huber\"
l2 = 0.0001             # on the embedding rows a batch reads
patience = 3            # stop after 3 epochs without a better validation RMSE
checkpoint = \"none\"     # \"best\" saves the weights; recommend/similar retrain otherwise

[metrics]
names = [\"rmse\", \"mae\"]   # add ranking metrics such as \"ndcg@10\", \"recall@20\"

# Lists of values make the grid: here 3 configurations × 5 folds = 15 runs. Any key
# above can be swept, e.g. \"training.learning_rate\" = [0.001, 0.01].
[sweep]
\"model.embedding_size\" = [16, 32, 64]
"
    ));
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::parse_experiment;

    #[test]
    fn every_template_is_a_valid_experiment_file() {
        for dataset in DatasetName::ALL {
            for architecture in Architecture::ALL {
                let text = experiment_template("t", dataset, architecture);
                let exp = parse_experiment(&text, Path::new("t.toml"))
                    .unwrap_or_else(|e| panic!("{dataset:?} {architecture:?}:\n{e}\n{text}"));
                assert_eq!(exp.base.data.dataset, dataset);
                assert_eq!(exp.base.model.architecture, architecture);
                let runs = crate::sweep::runs(&exp).expect("runs");
                let expected = if architecture.is_closed_form() { 1 } else { 15 };
                assert_eq!(runs.len(), expected, "{architecture:?}");
            }
        }
    }
}
