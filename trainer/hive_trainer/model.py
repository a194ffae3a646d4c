"""The logged form of a fine-tuned generator: an MLflow pyfunc model holding the LoRA adapter.

Only the adapter (and its tokenizer) is stored; the base model is named in the adapter's
config and in the model version's `hive.base_model` tag and is loaded from where the
serving side keeps it. `predict` takes chat conversations and returns completions, so the
registered `hive.generator` versions can be loaded with `mlflow.pyfunc.load_model`.
"""

from __future__ import annotations

import mlflow.pyfunc


class GeneratorAdapter(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from peft import AutoPeftModelForCausalLM
        from transformers import AutoTokenizer

        path = context.artifacts["adapter"]
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoPeftModelForCausalLM.from_pretrained(path)
        self.model.eval()

    def predict(self, context, model_input, params=None):
        import torch

        conversations = (
            model_input["messages"]
            if hasattr(model_input, "__getitem__") and "messages" in model_input
            else model_input
        )
        max_new_tokens = int((params or {}).get("max_new_tokens", 512))
        out = []
        for messages in conversations:
            text = self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
            with torch.no_grad():
                generated = self.model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
            out.append(self.tokenizer.decode(generated[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))
        return out
