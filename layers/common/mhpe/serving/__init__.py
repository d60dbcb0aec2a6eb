"""Serving: the champion ONNX model behind the pricing API, without scikit-learn or pandas.

The serve function imports only this package, `mhpe.schema`, `mhpe.features` (numpy) and
`mhpe.storage` (boto3), so that its package stays small and its cold start short. A unit
test checks `sys.modules` after a prediction.
"""
